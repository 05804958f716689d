#[test]
fn probe() {
    for src in [
        "input s: real []\nloss = mean(s * y_pred)",
        "param p = 0.7\nloss = mean(sum(p) * y_pred)",
        "input x: real [N, C]\ninput a: real [N]\nwrt x, a\nloss = mean(x)",
        "input x: real [N, C]\nloss = mean(x * true)",
        "input x: real [N, C]\nloss = mean(where(true, x, 1))",
        "input x: real [N, C]\nloss = mean(x * N + C)",
        "input x: real [N, C]\ninput lab: {0, 1} [N]\nloss = mean(x * one_hot(lab, C))",
        "input x: real [N, C]\nloss = mean(x + sum(x, axis=0, keepdims=true) + sum(x, axis=1, keepdims=true) + max(x, keepdims=true))",
        "input x: real [N, C]\nloss = mean(x + take(sum(x, axis=1, keepdims=true), 0, axis=0))",
        "input x: real [N, C]\nloss = mean(x + expand_dims(sum(x), axis=(0, 1)))",
        "input x: real [N, C]\nloss = mean(x + expand_dims(expand_dims(sum(x), axis=0), axis=0))",
        "input x: real [N, C]\nloss = mean(softmax(sum(x, keepdims=true)))",
        "input x: real [N, C]\nloss = mean(x ^ -1)",
        "input x: real [N, C]\nloss = mean(x ^ 2 ^ 0.5)",
        "input x: real [N, C]\nloss = mean(x + -0.5)",
        "input x: real [N, C]\nloss = mean(x - -0.5)",
        "input x: real [N, C]\nloss = mean(x * 1e-3)",
    ] {
        match lossc::compile(src) {
            Ok(p) => println!("OK {src:?} warnings {:?}", p.check(&Default::default()).iter().map(|d| d.message.clone()).collect::<Vec<_>>()),
            Err(e) => println!("ERR {src:?}: {e}"),
        }
    }
}
