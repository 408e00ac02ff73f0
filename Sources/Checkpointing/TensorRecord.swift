/// One tensor's entry in a safetensors header: its name, shape, element type, and where its
/// bytes lie in the data region (the part of the file after the header).
public struct TensorRecord: Equatable, Sendable {
    /// The state-dict key, e.g. `visual.transformer.resblocks.0.attn.in_proj_weight`.
    public let name: String
    /// Dimensions, outermost first; `[]` for a 0-d scalar such as `logit_scale`.
    public let shape: [Int]
    public let dtype: DType
    /// Byte range of the tensor's little-endian row-major data, relative to the data region.
    public let dataOffsets: Range<Int>

    public init(name: String, shape: [Int], dtype: DType, dataOffsets: Range<Int>) {
        self.name = name
        self.shape = shape
        self.dtype = dtype
        self.dataOffsets = dataOffsets
    }

    /// The product of the dimensions (1 for a scalar, 0 if any dimension is 0).
    public var elementCount: Int { shape.reduce(1, *) }

    /// Bytes of data: `elementCount × dtype.byteSize`.
    public var byteCount: Int { dataOffsets.count }
}

/// The number of elements of `shape`, or nil if a dimension is negative or the product
/// (times `elementSize` bytes) overflows `Int`.
func byteCount(shape: [Int], elementSize: Int) -> Int? {
    var count = elementSize
    var isEmpty = false
    for dimension in shape {
        guard dimension >= 0 else { return nil }
        if dimension == 0 { isEmpty = true; continue }
        let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
        guard !overflow else { return nil }
        count = product
    }
    return isEmpty ? 0 : count
}
