//! Streaming (non-temporal) stores: the gradient is written without its
//! cache lines being read first (a normal store reads each line before
//! overwriting it, a third more memory traffic for a loss that reads two
//! arrays and writes one) and without evicting the inputs from the caches.
//! They pay only when the output is larger than the caches; the caller
//! decides. Whole 64-byte lines are written with AVX-512 where the CPU has
//! it, 16-byte vectors (SSE2, every x86_64) otherwise; on other platforms
//! this is a plain copy. A copy moves bytes: one function serves f32 and f64.
//!
//! One of the few places in lossc with `unsafe` code (ARCHITECTURE.md lists
//! them); each block says why it is sound.

use crate::tensor::Real;

/// Copies `src` into `dst` (the shorter length) with streaming stores.
pub(crate) fn copy<T: Real>(dst: &mut [T], src: &[T]) {
    let n = dst.len().min(src.len());
    let (dst, src) = (&mut dst[..n], &src[..n]);
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            #[allow(unsafe_code)]
            // SAFETY: the CPU has AVX-512F (checked just above), the only
            // requirement of a `target_feature(enable = "avx512f")` function.
            unsafe {
                copy_avx512(dst, src);
            }
            return;
        }
        // Elements before the first 16-byte boundary, then whole 16-byte
        // vectors, then the rest.
        let lanes = 16 / std::mem::size_of::<T>();
        let head = dst.as_ptr().align_offset(16).min(n);
        dst[..head].copy_from_slice(&src[..head]);
        let body = (n - head) / lanes * lanes;
        let (dst_body, src_body) = (&mut dst[head..head + body], &src[head..head + body]);
        #[allow(unsafe_code)]
        // SAFETY: SSE2 is part of the x86_64 baseline. `T` is f32 or f64
        // (`Real`), plain bytes whose size divides 16. Every access is in
        // bounds: `i + lanes <= body` for slices of length `body`; loads are
        // unaligned (`loadu`); stores go to `dst_body`, whose start is 16-byte
        // aligned (`head` was chosen so) and `i` a multiple of 16 bytes, as
        // `_mm_stream_si128` requires. The fence orders the write-combined
        // stores before any later store, so other threads (after rayon's
        // join) see the data.
        unsafe {
            use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_sfence, _mm_stream_si128};
            let mut i = 0;
            while i < body {
                let v = _mm_loadu_si128(src_body.as_ptr().add(i).cast::<__m128i>());
                _mm_stream_si128(dst_body.as_mut_ptr().add(i).cast::<__m128i>(), v);
                i += lanes;
            }
            _mm_sfence();
        }
        dst[head + body..].copy_from_slice(&src[head + body..]);
    }
    #[cfg(not(target_arch = "x86_64"))]
    dst.copy_from_slice(src);
}

/// [`copy`] with 64-byte streaming stores.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn copy_avx512<T: Real>(dst: &mut [T], src: &[T]) {
    let n = dst.len().min(src.len());
    let lanes = 64 / std::mem::size_of::<T>();
    let head = dst.as_ptr().align_offset(64).min(n);
    dst[..head].copy_from_slice(&src[..head]);
    let body = (n - head) / lanes * lanes;
    let (dst_body, src_body) = (&mut dst[head..head + body], &src[head..head + body]);
    #[allow(unsafe_code)]
    // SAFETY: AVX-512F is enabled for this function. `T` is f32 or f64, plain
    // bytes whose size divides 64. `i + lanes <= body` keeps every 64-byte
    // access in bounds of the `body`-long slices; loads are unaligned;
    // `dst_body` starts on a 64-byte boundary and `i` is a multiple of 64
    // bytes, as `_mm512_stream_si512` requires. The fence makes the stores
    // visible before any later store.
    unsafe {
        use std::arch::x86_64::{__m512i, _mm_sfence, _mm512_loadu_si512, _mm512_stream_si512};
        let mut i = 0;
        while i < body {
            let v = _mm512_loadu_si512(src_body.as_ptr().add(i).cast::<__m512i>());
            _mm512_stream_si512(dst_body.as_mut_ptr().add(i).cast::<__m512i>(), v);
            i += lanes;
        }
        _mm_sfence();
    }
    dst[head + body..].copy_from_slice(&src[head + body..]);
}

#[cfg(test)]
mod tests {
    #[test]
    fn streaming_copies_are_copies_at_every_alignment() {
        let src: Vec<f32> = (0..300).map(|i| i as f32 * 0.5).collect();
        let src64: Vec<f64> = src.iter().map(|&x| f64::from(x)).collect();
        for offset in 0..20 {
            for len in [0, 1, 3, 15, 16, 17, 64, 200] {
                let mut dst = vec![0.0f32; 300];
                super::copy(&mut dst[offset..offset + len], &src[..len]);
                assert_eq!(&dst[offset..offset + len], &src[..len]);
                assert!(dst[..offset].iter().chain(&dst[offset + len..]).all(|&x| x == 0.0));
                let mut dst = vec![0.0f64; 300];
                super::copy(&mut dst[offset..offset + len], &src64[..len]);
                assert_eq!(&dst[offset..offset + len], &src64[..len]);
                assert!(dst[..offset].iter().chain(&dst[offset + len..]).all(|&x| x == 0.0));
            }
        }
    }
}
