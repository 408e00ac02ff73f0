/// Element types of the safetensors format, spelled as in its header (`"F32"`, `"BF16"`, ...).
///
/// All of these can be read: floating types convert to `Float`, integer and boolean types widen
/// to `Int64`. The writer produces `F32` and `I64`. The 8-bit float types of the format
/// (`F8_E4M3`, `F8_E5M2`) are reported as unsupported.
public enum DType: String, CaseIterable, Sendable {
    case bool = "BOOL"
    case uint8 = "U8"
    case int8 = "I8"
    case int16 = "I16"
    case uint16 = "U16"
    case float16 = "F16"
    case bfloat16 = "BF16"
    case int32 = "I32"
    case uint32 = "U32"
    case float32 = "F32"
    case float64 = "F64"
    case int64 = "I64"
    case uint64 = "U64"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .bool, .uint8, .int8: 1
        case .int16, .uint16, .float16, .bfloat16: 2
        case .int32, .uint32, .float32: 4
        case .float64, .int64, .uint64: 8
        }
    }

    /// True for the types `SafeTensorsFile.floats(named:)` converts (F16, BF16, F32, F64).
    public var isFloatingPoint: Bool {
        switch self {
        case .float16, .bfloat16, .float32, .float64: true
        default: false
        }
    }
}

// MARK: - Half-precision conversions (exact: every F16 and BF16 value is a Float)

/// The `Float` with the value of the IEEE 754 binary16 number `bits`; NaN payloads are kept.
@inline(__always)
func floatFromFloat16Bits(_ bits: UInt16) -> Float {
    let sign = UInt32(bits & 0x8000) << 16
    let exponent = UInt32(bits >> 10) & 0x1F
    var mantissa = UInt32(bits & 0x3FF)
    switch exponent {
    case 0:
        guard mantissa != 0 else { return Float(bitPattern: sign) }  // ±0
        // Subnormal: value = mantissa · 2^-24. Shift the leading one up to bit 10.
        var e: UInt32 = 127 - 15 + 1
        while mantissa & 0x400 == 0 {
            mantissa <<= 1
            e -= 1
        }
        return Float(bitPattern: sign | e << 23 | (mantissa & 0x3FF) << 13)
    case 0x1F:
        return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)  // ±inf or NaN
    default:
        return Float(bitPattern: sign | (exponent + 127 - 15) << 23 | mantissa << 13)
    }
}

/// The `Float` with the value of the bfloat16 number `bits` (the top half of a binary32).
@inline(__always)
func floatFromBFloat16Bits(_ bits: UInt16) -> Float {
    Float(bitPattern: UInt32(bits) << 16)
}
