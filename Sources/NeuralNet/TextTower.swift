/// A text encoder: token ids [B, ctx] (row-major, zero-padded, as `CLIPTokenizer` writes them) →
/// pooled features [B, E] and, for token-level objectives (FILIP), per-token features [B, ctx, E].
///
/// Its parameters live at the root of the CLIP state dict (no prefix), as OpenCLIP's text towers do.
/// A new text tower is a type conforming to this, registered with `TowerFactory.registerTextTower`.
public protocol TextTower: Layer {
    /// Learned absolute positions [ctx, W]; Long-CLIP stretches them and keeps their first rows frozen.
    var positionalEmbedding: Variable { get }
    /// - Parameter tokens: [B, ctx] token ids. - Returns: pooled [B, E]; tokens [B, ctx, E] when asked.
    func callAsFunction(_ tokens: [Int32], batch: Int, returnTokens: Bool) -> (pooled: Variable, tokens: Variable?)
    /// The end-of-text position of each row of `tokens` [B, ctx]: positions 0 ... end are the text,
    /// the rest padding (FILIP's token mask).
    func endPositions(_ tokens: [Int32], batch: Int) -> [Int]
    /// Turns per-block activation recomputation in backward on or off (see `Transformer`); a tower
    /// without transformer blocks ignores it.
    func setActivationRecomputation(_ on: Bool)
}
