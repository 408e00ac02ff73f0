import TensorCore

internal import CHDF5
import Foundation

/// A failure reported by HDF5, naming the file and, where one is involved, the dataset or attribute.
public struct HDF5Error: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let object: String?
    public let message: String

    public var description: String {
        if let object { return "\(file): \(object): \(message)" }
        return "\(file): \(message)"
    }
}

/// The serial HDF5 library is not thread-safe: every call into it, from any thread, holds this lock.
/// (Recursive, so one `HDF5File` method may call another.)
private let hdf5Lock = NSRecursiveLock()

/// Opens the library once and keeps it open until the process ends: HDF5's own `atexit` shutdown would
/// close every handle while other threads may still be releasing readers, whose later closes then fail
/// (and re-initialise the library with its error printing back on).
private let hdf5Initialized: Void = {
    H5dont_atexit()
    H5open()
}()

/// Every call into HDF5 goes through here: the global lock, the library opened, and HDF5's automatic
/// error-stack printing off on this thread (failures become `HDF5Error`s instead).
@inline(__always)
private func withHDF5<T>(_ body: () throws -> T) rethrows -> T {
    hdf5Lock.lock()
    defer { hdf5Lock.unlock() }
    _ = hdf5Initialized
    swiftclip_hdf5_silence_errors_on_this_thread()
    return try body()
}

/// The most specific message on HDF5's error stack (then clears it), whole, or "" when there is none.
private func hdf5StackMessage() -> String {
    guard let message = swiftclip_hdf5_last_error() else { return "" }
    defer { free(message) }
    return condensedHDF5Message(String(cString: message))
}

/// A file driver's message — "file write failed: time = Wed Dec  2 01:46:56 2026\n, filename = '…',
/// file descriptor = 5, errno = 28, error message = 'No space left on device', buf = 0x…, total write
/// size = …, …" — as "file write failed: No space left on device" (the error names the file already);
/// other messages as they are, on one line.
func condensedHDF5Message(_ message: String) -> String {
    let oneLine = message.replacingOccurrences(of: "\n", with: " ")
    guard let time = oneLine.range(of: ": time = "), let start = oneLine.range(of: "error message = '"),
          let end = oneLine[start.upperBound...].firstIndex(of: "'") else { return oneLine }
    return String(oneLine[..<time.lowerBound]) + ": " + String(oneLine[start.upperBound..<end])
}

/// An open HDF5 file: the only place in SwiftCLIP that talks to the HDF5 C library.
///
/// Supports exactly what the shard format needs: N-d `uint8` arrays (whole or a range of rows along
/// the first dimension — a hyperslab), variable-length `uint8` arrays, variable-length (or fixed-length,
/// read only) UTF-8 strings, `int64` vectors, and scalar string / integer attributes on the root group.
/// All calls are serialized through one global lock. The file is closed in `deinit` (or by `close()`).
public final class HDF5File: @unchecked Sendable {
    public enum Mode: Sendable {
        case readOnly
        /// Creates the file, replacing any existing one.
        case create
    }

    public let path: String
    private var id: hid_t
    /// Datasets opened once and kept open (with their file types) until `close()`: reading one item
    /// should not pay for opening the dataset each time.
    private var openDatasets: [String: (dataset: hid_t, type: hid_t)] = [:]

    public init(path: String, mode: Mode) throws {
        self.path = path
        id = try withHDF5 {
            let handle: hid_t
            switch mode {
            case .readOnly:
                handle = H5Fopen(path, swiftclip_H5F_ACC_RDONLY(), swiftclip_H5P_DEFAULT())
            case .create:
                handle = H5Fcreate(path, swiftclip_H5F_ACC_TRUNC(), swiftclip_H5P_DEFAULT(), swiftclip_H5P_DEFAULT())
            }
            if handle < 0 {
                let detail = hdf5StackMessage()
                throw HDF5Error(file: path, object: nil,
                                message: "cannot \(mode == .readOnly ? "open" : "create") HDF5 file"
                                    + (detail.isEmpty ? "" : " (\(detail))"))
            }
            return handle
        }
    }

    deinit { try? close() }

    /// Closes the datasets this object keeps open, then the file (flushing what was written); a second
    /// call does nothing, and further reads or writes fail with "file is closed".
    /// - Throws: `HDF5Error` when HDF5 cannot close (flush) the file.
    public func close() throws {
        try withHDF5 {
            guard id >= 0 else { return }
            for (dataset, type) in openDatasets.values {
                H5Tclose(type)
                H5Dclose(dataset)
            }
            openDatasets = [:]
            let status = H5Fclose(id)
            id = -1
            guard status >= 0 else { throw failure(nil, "cannot close the file") }
        }
    }

    /// Whether `path` starts with the HDF5 signature (false for a missing or unreadable file).
    public static func hasSignature(path: String) -> Bool {
        withHDF5 { H5Fis_hdf5(path) > 0 }
    }

    // MARK: - Errors and handles

    private func failure(_ object: String?, _ what: String) -> HDF5Error {
        let detail = hdf5StackMessage()
        return HDF5Error(file: path, object: object, message: what + (detail.isEmpty ? "" : " (\(detail))"))
    }

    /// Runs `body` with an open dataset, its file type and a fresh file dataspace (closed after).
    private func withDataset<T>(_ name: String, _ body: (hid_t, hid_t, hid_t) throws -> T) throws -> T {
        try withHDF5 {
            guard id >= 0 else { throw HDF5Error(file: path, object: name, message: "file is closed") }
            let dataset: hid_t, type: hid_t
            if let cached = openDatasets[name] {
                (dataset, type) = cached
            } else {
                guard H5Lexists(id, name, swiftclip_H5P_DEFAULT()) > 0 else {
                    _ = hdf5StackMessage()
                    throw HDF5Error(file: path, object: name, message: "no such dataset")
                }
                dataset = H5Dopen2(id, name, swiftclip_H5P_DEFAULT())
                guard dataset >= 0 else { throw failure(name, "cannot open dataset") }
                type = H5Dget_type(dataset)
                openDatasets[name] = (dataset, type)
            }
            let space = H5Dget_space(dataset)
            defer { H5Sclose(space) }
            return try body(dataset, type, space)
        }
    }

    private func dimensions(of space: hid_t) -> [Int] {
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard rank > 0 else { return [] }
        var dims = [hsize_t](repeating: 0, count: rank)
        H5Sget_simple_extent_dims(space, &dims, nil)
        return dims.map { Int($0) }
    }

    /// Selects `rows` along the first dimension of `space` (all of it when nil) and returns a matching
    /// memory dataspace (caller closes) and the number of elements selected.
    private func selectRows(_ rows: Range<Int>?, in space: hid_t, name: String) throws -> (memory: hid_t, count: Int) {
        let dims = dimensions(of: space)
        guard !dims.isEmpty else { throw HDF5Error(file: path, object: name, message: "expected an array, found a scalar") }
        var count = dims.map { hsize_t($0) }
        if let rows {
            guard rows.lowerBound >= 0, rows.upperBound <= dims[0] else {
                throw HDF5Error(file: path, object: name, message: "rows \(rows) out of range 0..<\(dims[0])")
            }
            var start = [hsize_t](repeating: 0, count: dims.count)
            start[0] = hsize_t(rows.lowerBound)
            count[0] = hsize_t(rows.count)
            guard H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nil, count, nil) >= 0 else {
                throw failure(name, "cannot select rows \(rows)")
            }
        }
        let memory = H5Screate_simple(Int32(count.count), count, nil)
        guard memory >= 0 else { throw failure(name, "cannot create a dataspace") }
        return (memory, count.reduce(1) { $0 * Int($1) })
    }

    private func create(_ name: String, shape: [Int], fileType: hid_t) throws -> (dataset: hid_t, space: hid_t) {
        guard id >= 0 else { throw HDF5Error(file: path, object: name, message: "file is closed") }
        let dims = shape.map { hsize_t($0) }
        let space = H5Screate_simple(Int32(dims.count), dims, nil)
        guard space >= 0 else { throw failure(name, "cannot create dataspace \(shape)") }
        // No modification times in object headers: the same contents give the same file bytes.
        let properties = H5Pcreate(swiftclip_H5P_DATASET_CREATE())
        defer { H5Pclose(properties) }
        H5Pset_obj_track_times(properties, false)
        let dataset = H5Dcreate2(id, name, fileType, space, swiftclip_H5P_DEFAULT(), properties, swiftclip_H5P_DEFAULT())
        guard dataset >= 0 else {
            H5Sclose(space)
            throw failure(name, "cannot create dataset")
        }
        return (dataset, space)
    }

    // MARK: - Inspecting

    /// Whether a dataset (or any link) named `name` exists, e.g. "/images".
    public func exists(_ name: String) -> Bool {
        withHDF5 { id >= 0 && H5Lexists(id, name, swiftclip_H5P_DEFAULT()) > 0 }
    }

    /// The element type of dataset `name`.
    public func elementType(of name: String) throws -> HDF5ElementType {
        try withDataset(name) { _, type, _ in Self.elementType(type) }
    }

    private static func elementType(_ type: hid_t) -> HDF5ElementType {
        let bytes = Int(H5Tget_size(type))
        switch H5Tget_class(type) {
        case H5T_INTEGER:
            return H5Tget_sign(type) == H5T_SGN_NONE ? .unsignedInteger(bytes: bytes) : .signedInteger(bytes: bytes)
        case H5T_FLOAT: return .float(bytes: bytes)
        case H5T_STRING: return .string
        case H5T_VLEN:
            let base = H5Tget_super(type)
            defer { H5Tclose(base) }
            return .variableLength(elementType(base))
        case H5T_COMPOUND: return .other("compound")
        case H5T_ENUM: return .other("enum")
        case H5T_ARRAY: return .other("array")
        case H5T_OPAQUE: return .other("opaque")
        case H5T_BITFIELD: return .other("bitfield")
        case H5T_REFERENCE: return .other("reference")
        default: return .other("unknown-type")
        }
    }

    /// HDF5 objects (files, datasets, types, …) open in this process: what `close()` and `deinit` must
    /// bring back to zero once every `HDF5File` is gone.
    public static var openObjectCount: Int {
        withHDF5 { swiftclip_hdf5_open_object_count() }
    }

    /// The dimensions of dataset `name` ([] for a scalar).
    public func shape(of name: String) throws -> [Int] {
        try withDataset(name) { _, _, space in dimensions(of: space) }
    }

    // MARK: - uint8 arrays

    /// Reads `rows` along the first dimension (all rows when nil) of a `uint8` dataset, row-major.
    public func readUInt8(_ name: String, rows: Range<Int>? = nil) throws -> [UInt8] {
        try withDataset(name) { dataset, type, space in
            guard H5Tget_class(type) == H5T_INTEGER, H5Tget_size(type) == 1, H5Tget_sign(type) == H5T_SGN_NONE else {
                throw HDF5Error(file: path, object: name, message: "expected uint8 elements")
            }
            let (memory, count) = try selectRows(rows, in: space, name: name)
            defer { H5Sclose(memory) }
            var values = [UInt8](repeating: 0, count: count)
            let status = values.withUnsafeMutableBytes {
                H5Dread(dataset, swiftclip_H5T_NATIVE_UINT8(), memory, space, swiftclip_H5P_DEFAULT(), $0.baseAddress)
            }
            guard status >= 0 else { throw failure(name, "cannot read rows \(rows.map { "\($0)" } ?? "all")") }
            return values
        }
    }

    // MARK: - int64 vectors

    /// Reads `rows` (all when nil) of a 1-d integer dataset as `Int64`.
    public func readInt64(_ name: String, rows: Range<Int>? = nil) throws -> [Int64] {
        try withDataset(name) { dataset, type, space in
            guard H5Tget_class(type) == H5T_INTEGER else {
                throw HDF5Error(file: path, object: name, message: "expected integer elements")
            }
            let (memory, count) = try selectRows(rows, in: space, name: name)
            defer { H5Sclose(memory) }
            var values = [Int64](repeating: 0, count: count)
            let status = values.withUnsafeMutableBytes {
                H5Dread(dataset, swiftclip_H5T_NATIVE_INT64(), memory, space, swiftclip_H5P_DEFAULT(), $0.baseAddress)
            }
            guard status >= 0 else { throw failure(name, "cannot read") }
            return values
        }
    }

    // MARK: - Writing numeric arrays

    /// The native HDF5 type of a numeric element type.
    private static func nativeType(_ type: HDF5ElementType) -> hid_t {
        switch type {
        case .unsignedInteger(bytes: 1): return swiftclip_H5T_NATIVE_UINT8()
        case .signedInteger(bytes: 1): return swiftclip_H5T_NATIVE_INT8()
        case .signedInteger(bytes: 2): return swiftclip_H5T_NATIVE_INT16()
        case .signedInteger(bytes: 4): return swiftclip_H5T_NATIVE_INT32()
        case .signedInteger(bytes: 8): return swiftclip_H5T_NATIVE_INT64()
        case .float(bytes: 4): return swiftclip_H5T_NATIVE_FLOAT()
        case .float(bytes: 8): return swiftclip_H5T_NATIVE_DOUBLE()
        default: fatalError("HDF5File: no native type for \(type)")
        }
    }

    /// Writes a numeric dataset of the given shape from row-major `values`, stored with `T`'s own type
    /// (`[UInt8]` → uint8, `[Int64]` → int64, `[Float]` → float32, …).
    public func write<T: HDF5Numeric>(_ name: String, shape: [Int], values: [T]) throws {
        ensure(shape.reduce(1, *) == values.count, "shape \(shape) does not match \(values.count) values")
        let type = Self.nativeType(T.hdf5ElementType)
        try withHDF5 {
            let (dataset, space) = try create(name, shape: shape, fileType: type)
            defer { H5Dclose(dataset); H5Sclose(space) }
            let status = values.withUnsafeBytes {
                H5Dwrite(dataset, type, swiftclip_H5S_ALL(), swiftclip_H5S_ALL(), swiftclip_H5P_DEFAULT(), $0.baseAddress)
            }
            guard status >= 0 else { throw failure(name, "cannot write") }
        }
    }

    // MARK: - Variable-length uint8 (one byte string per row)

    /// Reads `rows` (all when nil) of a 1-d variable-length `uint8` dataset, e.g. encoded JPEGs.
    public func readVariableBytes(_ name: String, rows: Range<Int>? = nil) throws -> [[UInt8]] {
        try withDataset(name) { dataset, type, space in
            guard H5Tget_class(type) == H5T_VLEN else {
                throw HDF5Error(file: path, object: name, message: "expected variable-length uint8 elements")
            }
            let (memory, count) = try selectRows(rows, in: space, name: name)
            defer { H5Sclose(memory) }
            let memoryType = H5Tvlen_create(swiftclip_H5T_NATIVE_UINT8())
            defer { H5Tclose(memoryType) }
            var buffers = [hvl_t](repeating: hvl_t(len: 0, p: nil), count: count)
            let status = H5Dread(dataset, memoryType, memory, space, swiftclip_H5P_DEFAULT(), &buffers)
            guard status >= 0 else { throw failure(name, "cannot read") }
            defer { H5Dvlen_reclaim(memoryType, memory, swiftclip_H5P_DEFAULT(), &buffers) }
            return buffers.map { entry in
                guard let p = entry.p, entry.len > 0 else { return [] }
                return Array(UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt8.self), count: Int(entry.len)))
            }
        }
    }

    public func writeVariableBytes(_ name: String, values: [[UInt8]]) throws {
        try withHDF5 {
            let type = H5Tvlen_create(swiftclip_H5T_NATIVE_UINT8())
            defer { H5Tclose(type) }
            let (dataset, space) = try create(name, shape: [values.count], fileType: type)
            defer { H5Dclose(dataset); H5Sclose(space) }
            // hvl_t needs stable pointers: copy every row into one contiguous buffer.
            let total = values.reduce(0) { $0 + $1.count }
            let storage = UnsafeMutablePointer<UInt8>.allocate(capacity: max(total, 1))
            defer { storage.deallocate() }
            var entries = [hvl_t]()
            entries.reserveCapacity(values.count)
            var offset = 0
            for row in values {
                row.withUnsafeBufferPointer { (storage + offset).update(from: $0.baseAddress!, count: row.count) }
                entries.append(hvl_t(len: row.count, p: UnsafeMutableRawPointer(storage + offset)))
                offset += row.count
            }
            let status = H5Dwrite(dataset, type, swiftclip_H5S_ALL(), swiftclip_H5S_ALL(), swiftclip_H5P_DEFAULT(),
                                  &entries)
            guard status >= 0 else { throw failure(name, "cannot write") }
        }
    }

    // MARK: - Strings

    private func variableStringType() -> hid_t {
        let type = H5Tcopy(swiftclip_H5T_C_S1())
        H5Tset_size(type, swiftclip_H5T_VARIABLE())
        H5Tset_cset(type, H5T_CSET_UTF8)
        return type
    }

    /// Reads strings from a variable-length buffer or a fixed-length one (`stride` bytes each).
    private func decodeStrings(fileType: hid_t, count: Int, object: String,
                               read: (hid_t, UnsafeMutableRawPointer) -> herr_t,
                               reclaim: (hid_t, UnsafeMutableRawPointer) -> Void) throws -> [String] {
        guard H5Tget_class(fileType) == H5T_STRING else {
            throw HDF5Error(file: path, object: object, message: "expected string elements")
        }
        if H5Tis_variable_str(fileType) > 0 {
            let memoryType = variableStringType()
            defer { H5Tclose(memoryType) }
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            return try pointers.withUnsafeMutableBytes { raw in
                guard read(memoryType, raw.baseAddress!) >= 0 else { throw failure(object, "cannot read strings") }
                defer { reclaim(memoryType, raw.baseAddress!) }
                return raw.bindMemory(to: UnsafeMutablePointer<CChar>?.self).map { $0.map { String(cString: $0) } ?? "" }
            }
        }
        let stride = H5Tget_size(fileType)
        let memoryType = H5Tcopy(fileType)
        defer { H5Tclose(memoryType) }
        var bytes = [UInt8](repeating: 0, count: max(count * stride, 1))
        let status = bytes.withUnsafeMutableBytes { read(memoryType, $0.baseAddress!) }
        guard status >= 0 else { throw failure(object, "cannot read strings") }
        let spacePadded = H5Tget_strpad(fileType) == H5T_STR_SPACEPAD
        return (0..<count).map { i in
            var slice = bytes[(i * stride)..<((i + 1) * stride)].prefix { $0 != 0 }
            if spacePadded { while slice.last == 0x20 { slice = slice.dropLast() } }
            return String(decoding: slice, as: UTF8.self)
        }
    }

    /// Reads `rows` (all when nil) of a 1-d string dataset (variable-length or fixed-length, UTF-8 or ASCII).
    public func readStrings(_ name: String, rows: Range<Int>? = nil) throws -> [String] {
        try withDataset(name) { dataset, type, space in
            let (memory, count) = try selectRows(rows, in: space, name: name)
            defer { H5Sclose(memory) }
            return try decodeStrings(
                fileType: type, count: count, object: name,
                read: { memoryType, buffer in
                    H5Dread(dataset, memoryType, memory, space, swiftclip_H5P_DEFAULT(), buffer)
                },
                reclaim: { memoryType, buffer in
                    H5Dvlen_reclaim(memoryType, memory, swiftclip_H5P_DEFAULT(), buffer)
                })
        }
    }

    /// Writes a 1-d variable-length UTF-8 string dataset (what h5py writes for `str` data). A string
    /// holding a NUL byte is refused: HDF5 would store it cut at the NUL.
    public func writeStrings(_ name: String, values: [String]) throws {
        if let i = values.firstIndex(where: { $0.utf8.contains(0) }) {
            throw HDF5Error(file: path, object: name, message: "value \(i) holds a NUL byte (HDF5 strings end at NUL)")
        }
        try withHDF5 {
            let type = variableStringType()
            defer { H5Tclose(type) }
            let (dataset, space) = try create(name, shape: [values.count], fileType: type)
            defer { H5Dclose(dataset); H5Sclose(space) }
            let pointers = values.map { strdup($0) }
            defer { pointers.forEach { free($0) } }
            let status = pointers.withUnsafeBytes {
                H5Dwrite(dataset, type, swiftclip_H5S_ALL(), swiftclip_H5S_ALL(), swiftclip_H5P_DEFAULT(), $0.baseAddress)
            }
            guard status >= 0 else { throw failure(name, "cannot write") }
        }
    }

    // MARK: - Root attributes

    private func withAttribute<T>(_ name: String, _ body: (hid_t, hid_t, hid_t) throws -> T) throws -> T? {
        try withHDF5 {
            guard id >= 0 else { throw HDF5Error(file: path, object: name, message: "file is closed") }
            guard H5Aexists(id, name) > 0 else { _ = hdf5StackMessage(); return nil }
            let attribute = H5Aopen(id, name, swiftclip_H5P_DEFAULT())
            guard attribute >= 0 else { throw failure("attribute \(name)", "cannot open") }
            defer { H5Aclose(attribute) }
            let type = H5Aget_type(attribute)
            defer { H5Tclose(type) }
            let space = H5Aget_space(attribute)
            defer { H5Sclose(space) }
            guard H5Sget_simple_extent_npoints(space) == 1 else {
                throw HDF5Error(file: path, object: "attribute \(name)", message: "expected a single value")
            }
            return try body(attribute, type, space)
        }
    }

    /// A root string attribute (variable- or fixed-length), or nil when absent.
    public func stringAttribute(_ name: String) throws -> String? {
        try withAttribute(name) { attribute, type, space in
            try decodeStrings(
                fileType: type, count: 1, object: "attribute \(name)",
                read: { memoryType, buffer in H5Aread(attribute, memoryType, buffer) },
                reclaim: { memoryType, buffer in H5Dvlen_reclaim(memoryType, space, swiftclip_H5P_DEFAULT(), buffer) }
            )[0]
        }
    }

    /// A root integer attribute, or nil when absent.
    public func integerAttribute(_ name: String) throws -> Int64? {
        try withAttribute(name) { attribute, type, _ in
            guard H5Tget_class(type) == H5T_INTEGER else {
                throw HDF5Error(file: path, object: "attribute \(name)", message: "expected an integer")
            }
            var value: Int64 = 0
            guard H5Aread(attribute, swiftclip_H5T_NATIVE_INT64(), &value) >= 0 else {
                throw failure("attribute \(name)", "cannot read")
            }
            return value
        }
    }

    private func writeAttribute(_ name: String, type: hid_t, _ value: UnsafeRawPointer) throws {
        guard id >= 0 else { throw HDF5Error(file: path, object: name, message: "file is closed") }
        if H5Aexists(id, name) > 0 { H5Adelete(id, name) }
        let space = H5Screate(H5S_SCALAR)
        defer { H5Sclose(space) }
        let attribute = H5Acreate2(id, name, type, space, swiftclip_H5P_DEFAULT(), swiftclip_H5P_DEFAULT())
        guard attribute >= 0 else { throw failure("attribute \(name)", "cannot create") }
        defer { H5Aclose(attribute) }
        guard H5Awrite(attribute, type, value) >= 0 else { throw failure("attribute \(name)", "cannot write") }
    }

    /// Sets a root attribute to a variable-length UTF-8 string (as h5py does for `str`).
    public func setAttribute(_ name: String, string: String) throws {
        try withHDF5 {
            let type = variableStringType()
            defer { H5Tclose(type) }
            let pointer = strdup(string)
            defer { free(pointer) }
            var pointers: [UnsafeMutablePointer<CChar>?] = [pointer]
            try pointers.withUnsafeMutableBytes { try writeAttribute(name, type: type, $0.baseAddress!) }
        }
    }

    /// Sets a root attribute to an `int64` scalar (as h5py does for a Python `int`).
    public func setAttribute(_ name: String, integer: Int64) throws {
        try withHDF5 {
            var value = integer
            try writeAttribute(name, type: swiftclip_H5T_NATIVE_INT64(), &value)
        }
    }
}
