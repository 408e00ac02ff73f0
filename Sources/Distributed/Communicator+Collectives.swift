import TensorCore

/// Typed collectives built on the byte-level primitives of `Communicator`.
extension Communicator {
    /// Rows of every rank concatenated in rank order: [B, …] on each rank → [worldSize · B, …].
    /// Every rank passes the same shape. With one rank, `rows` itself.
    public func allGather(rows: Tensor) -> Tensor {
        guard worldSize > 1 else { return rows }
        var result = Tensor(uninitializedShape: [worldSize * rows.shape[0]] + rows.shape.dropFirst())
        rows.withUnsafeBufferPointer { local in
            result.withUnsafeMutableBufferPointer { out in
                allGather(UnsafeRawBufferPointer(local), into: UnsafeMutableRawBufferPointer(out))
            }
        }
        return result
    }

    /// Every rank's `values` concatenated in rank order (each rank passes the same count).
    public func allGather(_ values: [Int]) -> [Int] {
        guard worldSize > 1 else { return values }
        let local = values.map { Int64($0) }
        var result = [Int64](repeating: 0, count: worldSize * local.count)
        local.withUnsafeBytes { l in result.withUnsafeMutableBytes { allGather(l, into: $0) } }
        return result.map { Int($0) }
    }

    /// Whether `flag` is true on any rank (every rank gets the same answer).
    public func any(_ flag: Bool) -> Bool {
        allGather([flag ? 1 : 0]).contains(1)
    }

    /// Rank `root`'s tensor values copied into `tensor` on every rank (same shape everywhere).
    public func broadcast(_ tensor: inout Tensor, root: Int = 0) {
        guard worldSize > 1 else { return }
        tensor.withUnsafeMutableBufferPointer { broadcast(UnsafeMutableRawBufferPointer($0), root: root) }
    }
}
