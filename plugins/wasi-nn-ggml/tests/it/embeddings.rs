//! all-MiniLM-L6-v2 embeddings against the float64 reference vectors.

use crate::support::{shared_model, Guest};

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

#[test]
fn minilm_embeddings_match_the_reference() {
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(shared_model("all-MiniLM-L6-v2.reference-embeddings.json"))
            .unwrap(),
    )
    .unwrap();
    let mut guest = Guest::with_model("embed", &shared_model("all-MiniLM-L6-v2-Q8_0.gguf"));
    let context = guest.context(
        "embed",
        r#"{"embedding": true, "ctx-size": 512, "threads": 2}"#,
    );

    let vectors = reference["vectors"].as_array().unwrap();
    assert!(!vectors.is_empty());
    for vector in vectors {
        let input = vector["input"].as_str().unwrap();
        let expected: Vec<f64> = vector["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(guest.set_input(context, 0, input.as_bytes()), 0);
        assert_eq!(guest.nn.compute(context), 0);

        let output: serde_json::Value =
            serde_json::from_slice(&guest.output(context, 0).unwrap()).unwrap();
        let got: Vec<f64> = output["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(output["n_embedding"], expected.len());
        let similarity = cosine(&got, &expected);
        assert!(similarity >= 0.999, "{input:?}: cosine {similarity}");

        let token_ids = vector["token_ids"].as_array().unwrap().len();
        assert_eq!(
            guest.metadata(context)["input_tokens"],
            token_ids,
            "{input:?}"
        );
    }
    assert_eq!(
        guest.nn.compute_single(context),
        6,
        "streaming is not an embedding operation"
    );
}
