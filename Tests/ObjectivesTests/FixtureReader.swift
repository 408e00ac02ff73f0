import Foundation
import Objectives

/// A reference fixture from `Tests/Fixtures/objectives/` (written by
/// `Scripts/make-objective-fixtures.py`): F32 tensors by name and the string metadata.
///
/// A minimal private safetensors reader: 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {…}}`, then raw data.
struct Fixture {
    let name: String
    let tensors: [String: Tensor]
    let metadata: [String: String]

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/objectives")

    init(_ name: String) throws {
        self.name = name
        let data = try Data(contentsOf: Fixture.directory.appendingPathComponent(name + ".safetensors"))
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength))) as! [String: Any]
        let body = data.subdata(in: (8 + headerLength)..<data.count)
        var tensors: [String: Tensor] = [:]
        for (key, value) in header where key != "__metadata__" {
            let entry = value as! [String: Any]
            precondition(entry["dtype"] as? String == "F32", "fixture \(name): \(key) is not F32")
            let shape = entry["shape"] as! [Int]
            let offsets = entry["data_offsets"] as! [Int]
            let scalars = body.subdata(in: offsets[0]..<offsets[1]).withUnsafeBytes { raw in
                (0..<(raw.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
            }
            tensors[key] = Tensor(shape: shape, scalars: scalars)
        }
        self.tensors = tensors
        metadata = header["__metadata__"] as? [String: String] ?? [:]
    }

    subscript(_ key: String) -> Tensor {
        guard let t = tensors[key] else { fatalError("fixture \(name) has no tensor \(key) (has \(tensors.keys.sorted()))") }
        return t
    }

    /// The `options` metadata as a JSON object.
    var options: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data((metadata["options"] ?? "{}").utf8))) as? [String: Any] ?? [:]
    }
}
