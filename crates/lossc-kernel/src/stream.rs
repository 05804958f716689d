//! Streaming (non-temporal) stores: the gradient is written without its
//! cache lines being read first (a normal store reads each line before
//! overwriting it, a third more memory traffic for a loss that reads two
//! arrays and writes one) and without evicting the inputs from the caches.
//! They pay only when the output is larger than the caches; the caller
//! decides. Whole 64-byte lines are written with AVX-512 where the CPU has
//! it, 16-byte vectors (SSE2, every x86_64) otherwise; on other platforms
//! this is a plain copy.
//!
//! This is one of the two places in lossc with `unsafe` code (the other maps
//! `.npy` files in the CLI); each block says why it is sound.

/// Copies `src` into `dst` (the shorter length) with streaming stores.
pub(crate) fn copy_f32(dst: &mut [f32], src: &[f32]) {
    let n = dst.len().min(src.len());
    let (dst, src) = (&mut dst[..n], &src[..n]);
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            #[allow(unsafe_code)]
            // SAFETY: the CPU has AVX-512F (checked just above), the only
            // requirement of a `target_feature(enable = "avx512f")` function.
            unsafe {
                copy_f32_avx512(dst, src);
            }
            return;
        }
        // Elements before the first 16-byte boundary, then whole 4-lane
        // vectors, then the rest.
        let head = dst.as_ptr().align_offset(16).min(n);
        dst[..head].copy_from_slice(&src[..head]);
        let body = (n - head) / 4 * 4;
        let (dst_body, src_body) = (&mut dst[head..head + body], &src[head..head + body]);
        #[allow(unsafe_code)]
        // SAFETY: SSE and SSE2 are part of the x86_64 baseline. Every pointer
        // is in bounds: `i + 4 <= body` for slices of length `body`; loads are
        // unaligned (`loadu`); stores go to `dst_body`, whose start is 16-byte
        // aligned (`head` was chosen so) and `i` a multiple of 4 lanes of 4
        // bytes, as `_mm_stream_ps` requires. The fence orders the
        // write-combined stores before any later store, so other threads
        // (after rayon's join) see the data.
        unsafe {
            use std::arch::x86_64::{_mm_loadu_ps, _mm_sfence, _mm_stream_ps};
            let mut i = 0;
            while i < body {
                let v = _mm_loadu_ps(src_body.as_ptr().add(i));
                _mm_stream_ps(dst_body.as_mut_ptr().add(i), v);
                i += 4;
            }
            _mm_sfence();
        }
        dst[head + body..].copy_from_slice(&src[head + body..]);
    }
    #[cfg(not(target_arch = "x86_64"))]
    dst.copy_from_slice(src);
}

/// [`copy_f32`] with 64-byte streaming stores.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn copy_f32_avx512(dst: &mut [f32], src: &[f32]) {
    let n = dst.len().min(src.len());
    let head = dst.as_ptr().align_offset(64).min(n);
    dst[..head].copy_from_slice(&src[..head]);
    let body = (n - head) / 16 * 16;
    let (dst_body, src_body) = (&mut dst[head..head + body], &src[head..head + body]);
    #[allow(unsafe_code)]
    // SAFETY: AVX-512F is enabled for this function. `i + 16 <= body` keeps
    // every 16-lane access in bounds of the `body`-long slices; loads are
    // unaligned; `dst_body` starts on a 64-byte boundary and `i` is a
    // multiple of 16 lanes of 4 bytes, as `_mm512_stream_ps` requires. The
    // fence makes the stores visible before any later store.
    unsafe {
        use std::arch::x86_64::{_mm_sfence, _mm512_loadu_ps, _mm512_stream_ps};
        let mut i = 0;
        while i < body {
            let v = _mm512_loadu_ps(src_body.as_ptr().add(i));
            _mm512_stream_ps(dst_body.as_mut_ptr().add(i), v);
            i += 16;
        }
        _mm_sfence();
    }
    dst[head + body..].copy_from_slice(&src[head + body..]);
}

/// Copies `src` into `dst` (the shorter length) with streaming stores.
pub(crate) fn copy_f64(dst: &mut [f64], src: &[f64]) {
    let n = dst.len().min(src.len());
    let (dst, src) = (&mut dst[..n], &src[..n]);
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            #[allow(unsafe_code)]
            // SAFETY: the CPU has AVX-512F (checked just above).
            unsafe {
                copy_f64_avx512(dst, src);
            }
            return;
        }
        let head = dst.as_ptr().align_offset(16).min(n);
        dst[..head].copy_from_slice(&src[..head]);
        let body = (n - head) / 2 * 2;
        let (dst_body, src_body) = (&mut dst[head..head + body], &src[head..head + body]);
        #[allow(unsafe_code)]
        // SAFETY: as in `copy_f32`, with 2 lanes of 8 bytes per 16-byte store.
        unsafe {
            use std::arch::x86_64::{_mm_loadu_pd, _mm_sfence, _mm_stream_pd};
            let mut i = 0;
            while i < body {
                let v = _mm_loadu_pd(src_body.as_ptr().add(i));
                _mm_stream_pd(dst_body.as_mut_ptr().add(i), v);
                i += 2;
            }
            _mm_sfence();
        }
        dst[head + body..].copy_from_slice(&src[head + body..]);
    }
    #[cfg(not(target_arch = "x86_64"))]
    dst.copy_from_slice(src);
}

/// [`copy_f64`] with 64-byte streaming stores.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn copy_f64_avx512(dst: &mut [f64], src: &[f64]) {
    let n = dst.len().min(src.len());
    let head = dst.as_ptr().align_offset(64).min(n);
    dst[..head].copy_from_slice(&src[..head]);
    let body = (n - head) / 8 * 8;
    let (dst_body, src_body) = (&mut dst[head..head + body], &src[head..head + body]);
    #[allow(unsafe_code)]
    // SAFETY: as in `copy_f32_avx512`, with 8 lanes of 8 bytes per store.
    unsafe {
        use std::arch::x86_64::{_mm_sfence, _mm512_loadu_pd, _mm512_stream_pd};
        let mut i = 0;
        while i < body {
            let v = _mm512_loadu_pd(src_body.as_ptr().add(i));
            _mm512_stream_pd(dst_body.as_mut_ptr().add(i), v);
            i += 8;
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
                super::copy_f32(&mut dst[offset..offset + len], &src[..len]);
                assert_eq!(&dst[offset..offset + len], &src[..len]);
                assert!(dst[..offset].iter().chain(&dst[offset + len..]).all(|&x| x == 0.0));
                let mut dst = vec![0.0f64; 300];
                super::copy_f64(&mut dst[offset..offset + len], &src64[..len]);
                assert_eq!(&dst[offset..offset + len], &src64[..len]);
            }
        }
    }
}
