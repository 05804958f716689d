fn main() {
    for src in [
        "loss = mean(square(y_true - y_pred))",
        "input y_true: {0, 1}\ninput y_pred: (0, 1)\nloss bce = mean(-(y_true * log(y_pred) + (1 - y_true) * log(1 - y_pred)))",
        "input y_true: [0, 1] [N, C]\ninput y_pred: real [N, C]\nloss cce = mean(-sum(y_true * log_softmax(y_pred), axis=-1))",
        "input y_true: {0, 1}\ninput y_pred: real\nloss bce_logits = mean(softplus(y_pred) - y_true * y_pred)",
    ] {
        let p = lossc::compile(src).unwrap();
        let g = p.gradient(None, &[]).unwrap();
        println!("{}", g.to_source());
    }
}
