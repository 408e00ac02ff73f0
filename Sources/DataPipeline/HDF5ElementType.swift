/// The element type of an HDF5 dataset, as far as the shard format cares: shards are validated against
/// it when opened, and errors name it ("/images has float32 elements, expected uint8").
public indirect enum HDF5ElementType: Sendable, Equatable, CustomStringConvertible {
    case unsignedInteger(bytes: Int)
    case signedInteger(bytes: Int)
    case float(bytes: Int)
    /// A string, fixed- or variable-length.
    case string
    /// A variable-length sequence, e.g. encoded JPEG bytes (`variableLength(.unsignedInteger(bytes: 1))`).
    case variableLength(HDF5ElementType)
    /// Any other HDF5 type class (compound, enum, opaque, …), by name.
    case other(String)

    public static let uint8 = HDF5ElementType.unsignedInteger(bytes: 1)

    public var isInteger: Bool {
        switch self {
        case .unsignedInteger, .signedInteger: return true
        default: return false
        }
    }

    public var description: String {
        switch self {
        case let .unsignedInteger(bytes): return "uint\(8 * bytes)"
        case let .signedInteger(bytes): return "int\(8 * bytes)"
        case let .float(bytes): return "float\(8 * bytes)"
        case .string: return "string"
        case let .variableLength(base): return "variable-length \(base)"
        case let .other(name): return name
        }
    }
}

/// Swift types `HDF5File.write(_:shape:values:)` stores as numeric datasets of the same type.
public protocol HDF5Numeric: Sendable {
    static var hdf5ElementType: HDF5ElementType { get }
}

extension UInt8: HDF5Numeric { public static var hdf5ElementType: HDF5ElementType { .unsignedInteger(bytes: 1) } }
extension Int8: HDF5Numeric { public static var hdf5ElementType: HDF5ElementType { .signedInteger(bytes: 1) } }
extension Int16: HDF5Numeric { public static var hdf5ElementType: HDF5ElementType { .signedInteger(bytes: 2) } }
extension Int32: HDF5Numeric { public static var hdf5ElementType: HDF5ElementType { .signedInteger(bytes: 4) } }
extension Int64: HDF5Numeric { public static var hdf5ElementType: HDF5ElementType { .signedInteger(bytes: 8) } }
extension Float: HDF5Numeric { public static var hdf5ElementType: HDF5ElementType { .float(bytes: 4) } }
extension Double: HDF5Numeric { public static var hdf5ElementType: HDF5ElementType { .float(bytes: 8) } }
