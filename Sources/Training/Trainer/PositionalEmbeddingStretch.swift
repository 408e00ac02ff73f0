/// Long-CLIP's positional-embedding stretch applied on load (delegates to the objective's definition).
enum PositionalEmbeddingStretch {
    static func stretch(_ pe: Tensor, to length: Int) -> Tensor {
        fatalError("Long-CLIP stretching arrives with the objectives work")
    }
    static func freezeFirstRows(of p: Variable) {}
}
