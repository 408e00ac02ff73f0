/// An N-dimensional Float32 array: contiguous, row-major, copy-on-write.
///
/// Shapes are `[Int]` with the slowest axis first (`[B, T, C]`). A 0-d tensor
/// (shape `[]`) holds one scalar.
public struct Tensor: @unchecked Sendable {
    public private(set) var shape: [Int]
    @usableFromInline var storage: TensorStorage

    /// Number of elements (product of the shape).
    public var count: Int { shape.reduce(1, *) }
    public var rank: Int { shape.count }

    /// Uninitialized tensor; only for kernels that write every element.
    public init(uninitializedShape shape: [Int]) {
        ensure(shape.allSatisfy { $0 >= 0 }, "Tensor shape must be non-negative, got \(shape)")
        self.shape = shape
        storage = TensorStorage(count: shape.reduce(1, *))
    }

    public init(shape: [Int], scalars: [Float]) {
        ensure(shape.reduce(1, *) == scalars.count,
                     "Tensor shape \(shape) needs \(shape.reduce(1, *)) scalars, got \(scalars.count)")
        self.init(uninitializedShape: shape)
        scalars.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { storage.pointer.update(from: base, count: scalars.count) }
        }
    }

    public init(shape: [Int], repeating value: Float) {
        self.init(uninitializedShape: shape)
        storage.pointer.update(repeating: value, count: count)
    }

    /// A 0-d tensor.
    public init(_ scalar: Float) { self.init(shape: [], scalars: [scalar]) }

    public var scalars: [Float] { Array(UnsafeBufferPointer(start: storage.pointer, count: count)) }

    /// The single value of a one-element tensor.
    public var scalar: Float {
        ensure(count == 1, "scalar needs a one-element tensor, got shape \(shape)")
        return storage.pointer[0]
    }

    /// Read-only access to the elements.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: count))
    }

    /// Write access; copies first if the storage is shared (copy-on-write).
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        makeUnique()
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: count))
    }

    /// Raw pointer for kernels that only read. Valid while `self` is alive.
    @inlinable public var pointer: UnsafeMutablePointer<Float> { storage.pointer }

    @inlinable
    public mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) {
            let fresh = TensorStorage(count: count)
            fresh.pointer.update(from: storage.pointer, count: count)
            storage = fresh
        }
    }

    /// Same elements, new shape (no copy: storage is shared until written).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var resolved = newShape
        if let hole = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != hole }.reduce(1) { $0 * $1.element }
            ensure(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
            resolved[hole] = count / known
        }
        ensure(resolved.reduce(1, *) == count, "cannot reshape \(shape) (\(count) elements) to \(newShape)")
        var t = self
        t.shape = resolved
        return t
    }

    public subscript(flat index: Int) -> Float {
        get { storage.pointer[index] }
        set { makeUnique(); storage.pointer[index] = newValue }
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = scalars.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(shown)\(count > 8 ? ", …" : "")])"
    }
}

import Foundation

extension Tensor {
    /// True when shapes match and every element differs by at most `tolerance`.
    public func isClose(to other: Tensor, tolerance: Float = 1e-5) -> Bool {
        shape == other.shape && maxAbsDifference(other) <= tolerance
    }

    public func maxAbsDifference(_ other: Tensor) -> Float {
        ensure(count == other.count, "maxAbsDifference needs equal sizes, got \(shape) and \(other.shape)")
        var m: Float = 0
        for i in 0..<count { m = Swift.max(m, Swift.abs(pointer[i] - other.pointer[i])) }
        return m
    }
}
