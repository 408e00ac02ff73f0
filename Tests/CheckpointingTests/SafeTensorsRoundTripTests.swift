import Foundation
import XCTest
import Checkpointing
import TensorCore

final class SafeTensorsRoundTripTests: TemporaryDirectoryTestCase {
    /// Deterministic test values that include negative zero, tiny and huge numbers.
    private func values(_ count: Int, seed: Int) -> [Float] {
        (0..<count).map { i in
            switch (i + seed) % 7 {
            case 0: -0.0
            case 1: Float(i) * 0.37 - 5
            case 2: .leastNonzeroMagnitude
            case 3: .greatestFiniteMagnitude
            default: Float(seed) / Float(i + 1)
            }
        }
    }

    /// Tensors written from their buffers give the same bytes as the same values from arrays.
    func testTensorsStreamToTheSameBytesAsArrays() throws {
        var fromArrays = try SafeTensorsWriter(metadata: ["m": "1"])
        var fromTensors = try SafeTensorsWriter(metadata: ["m": "1"])
        for (index, shape) in [[], [0], [3], [2, 5], [4, 1, 3]].enumerated() {
            let data = values(shape.reduce(1, *), seed: index)
            try fromArrays.add("t\(index)", shape: shape, floats: data)
            try fromTensors.add("t\(index)", tensor: Tensor(shape: shape, scalars: data))
        }
        XCTAssertEqual(fromTensors.serialized(), fromArrays.serialized())
        let file = try SafeTensorsFile(data: fromTensors.serialized(), path: "x")
        for index in 0..<5 {
            let tensor = try file.tensor(named: "t\(index)")
            XCTAssertEqual(tensor.scalars.map(\.bitPattern), try file.floats(named: "t\(index)").map(\.bitPattern))
            XCTAssertEqual(tensor.shape, file.record(named: "t\(index)")?.shape)
        }
    }

    func testRoundTripOfManyShapes() throws {
        let shapes: [[Int]] = [[], [1], [0], [5], [2, 3], [3, 0, 4], [0, 0], [1, 1, 1, 1], [2, 3, 4, 5], [17, 3]]
        var writer = try SafeTensorsWriter(metadata: ["model": "test", "note": "ünïcødé \"quoted\"\n"])
        var expected: [String: (shape: [Int], values: [Float])] = [:]
        for (index, shape) in shapes.enumerated() {
            let name = "layer.\(index).weight"
            let data = values(shape.reduce(1, *), seed: index)
            try writer.add(name, shape: shape, floats: data)
            expected[name] = (shape, data)
        }
        try writer.add("ids", shape: [2, 2], int64s: [Int64.min, -1, 0, Int64.max])
        try writer.add("no_ids", shape: [0], int64s: [])
        let file = url("model.safetensors")
        try writer.write(to: file)

        let read = try SafeTensorsFile(contentsOf: file)
        XCTAssertEqual(read.metadata, ["model": "test", "note": "ünïcødé \"quoted\"\n", "format_version": "1"])
        XCTAssertEqual(read.names, writer.names)
        for (name, tensor) in expected {
            let record = try XCTUnwrap(read.record(named: name))
            XCTAssertEqual(record.shape, tensor.shape, name)
            XCTAssertEqual(record.dtype, .float32)
            XCTAssertEqual(record.byteCount, tensor.values.count * 4)
            XCTAssertEqual(try read.floats(named: name).map(\.bitPattern), tensor.values.map(\.bitPattern), name)
        }
        XCTAssertEqual(read.record(named: "ids")?.dtype, .int64)
        XCTAssertEqual(try read.int64s(named: "ids"), [Int64.min, -1, 0, Int64.max])
        XCTAssertEqual(try read.int64s(named: "no_ids"), [])
        XCTAssertEqual(read.record(named: "layer.0.weight")?.shape, [])  // 0-d scalar
        XCTAssertEqual(read.record(named: "layer.0.weight")?.elementCount, 1)
    }

    func testSerializedBytesAreStableAndIndependentOfInsertionOrder() throws {
        let tensors: [(String, [Int], [Float])] = [("b", [2], [1, 2]), ("a", [], [3]), ("c.d", [1, 3], [4, 5, 6])]
        var forward = try SafeTensorsWriter(metadata: ["z": "1", "a": "2"])
        for (name, shape, data) in tensors { try forward.add(name, shape: shape, floats: data) }
        var backward = try SafeTensorsWriter(metadata: ["a": "2", "z": "1"])
        for (name, shape, data) in tensors.reversed() { try backward.add(name, shape: shape, floats: data) }
        XCTAssertEqual(forward.serialized(), backward.serialized())

        try writeSafeTensors(tensors.map { (name: $0.0, shape: $0.1, data: $0.2) }, metadata: ["z": "1", "a": "2"],
                             to: url("1.safetensors"))
        try writeSafeTensors(tensors.map { (name: $0.0, shape: $0.1, data: $0.2) }, metadata: ["a": "2", "z": "1"],
                             to: url("2.safetensors"))
        let first = try Data(contentsOf: url("1.safetensors"))
        XCTAssertEqual(first, try Data(contentsOf: url("2.safetensors")))
        XCTAssertEqual(first, forward.serialized())
    }

    func testLayoutFollowsTheFormat() throws {
        var writer = try SafeTensorsWriter()
        try writer.add("w", shape: [2], floats: [1, -2])
        let bytes = [UInt8](writer.serialized())
        let headerLength = Int(bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        XCTAssertEqual((8 + headerLength) % 8, 0, "data must start 8-byte aligned")
        let header = String(decoding: bytes[8..<8 + headerLength], as: UTF8.self)
        XCTAssertEqual(header.trimmingCharacters(in: .whitespaces),
                       #"{"__metadata__":{"format_version":"1"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#)
        XCTAssertEqual(Array(bytes[(8 + headerLength)...]), [0, 0, 0x80, 0x3F, 0, 0, 0, 0xC0])
    }

    /// Same values the Python check (Scripts/make-safetensors-fixtures.py `check`) expects.
    private func goldenWriter() throws -> SafeTensorsWriter {
        var writer = try SafeTensorsWriter(metadata: ["producer": "SwiftCLIP tests"])
        try writer.add("visual.class_embedding", shape: [7], floats: [1, -2, 0.25, 1e-3, -7.5, 3.0e38, -0.0])
        try writer.add("token_embedding.weight", shape: [4, 3], floats: (0..<12).map { Float($0) / 8 })
        try writer.add("text_projection", shape: [3, 2], floats: (0..<6).map { Float($0) * 0.5 - 1 })
        try writer.add("positions", shape: [5], int64s: [0, 1, -1, .max, .min])
        try writer.add("logit_scale", shape: [], floats: [2.6592600345611572])
        try writer.add("empty", shape: [0, 5], floats: [])
        return writer
    }

    /// The writer's output is pinned to a committed file, which Python's safetensors loads
    /// (`Scripts/make-safetensors-fixtures.py check`). Regenerate with
    /// `SWIFTCLIP_REGENERATE_FIXTURES=1 swift test --filter testGoldenFile` after a deliberate change.
    func testGoldenFile() throws {
        let golden = fixturesDirectory.appendingPathComponent("written-by-swift.safetensors")
        let bytes = try goldenWriter().serialized()
        if ProcessInfo.processInfo.environment["SWIFTCLIP_REGENERATE_FIXTURES"] == "1" {
            try goldenWriter().write(to: golden)
        }
        XCTAssertEqual(try Data(contentsOf: golden), bytes, "writer output changed; see the doc comment")
        let read = try SafeTensorsFile(contentsOf: golden)
        XCTAssertEqual(try read.floats(named: "logit_scale"), [2.6592600345611572])
        XCTAssertEqual(try read.int64s(named: "positions"), [0, 1, -1, .max, .min])
    }

    func testWriterRejectsBadInput() throws {
        var writer = try SafeTensorsWriter()
        assertCheckpointingError(try writer.add("w", shape: [2, 3], floats: [1, 2, 3]), path: "'w'", "shape [2, 3]", "3 values")
        assertCheckpointingError(try writer.add("w", shape: [-1], floats: []), path: "'w'", "shape [-1]")
        assertCheckpointingError(try writer.add("w", shape: [1 << 40, 1 << 40], floats: []), path: "'w'")
        assertCheckpointingError(try writer.add("__metadata__", shape: [], floats: [1]), path: "__metadata__")
        assertCheckpointingError(try writer.add("", shape: [], floats: [1]), path: "''")
        try writer.add("w", shape: [], floats: [1])
        assertCheckpointingError(try writer.add("w", shape: [], int64s: [1]), path: "'w'", "already added")
        assertCheckpointingError(try SafeTensorsWriter(metadata: ["format_version": "2"]), path: "metadata", "format_version")
        XCTAssertNoThrow(try SafeTensorsWriter(metadata: ["format_version": "1"]))
    }

    func testReadingWithTheWrongAccessorIsAnError() throws {
        var writer = try SafeTensorsWriter()
        try writer.add("f", shape: [1], floats: [1])
        try writer.add("i", shape: [1], int64s: [1])
        let file = try SafeTensorsFile(data: writer.serialized(), path: "mem.safetensors")
        assertCheckpointingError(try file.int64s(named: "f"), path: "mem.safetensors", "'f'", "F32")
        assertCheckpointingError(try file.floats(named: "i"), path: "mem.safetensors", "'i'", "I64")
        assertCheckpointingError(try file.floats(named: "missing"), path: "mem.safetensors", "no tensor named 'missing'")
        XCTAssertEqual(try file.bytes(named: "i"), Data([1, 0, 0, 0, 0, 0, 0, 0]))
    }

    /// Every one of the 65,536 half-precision values converts exactly (Float16 is the oracle).
    func testEveryFloat16ConvertsExactly() throws {
        #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        var data: [UInt8] = []
        for bits in 0...UInt16.max { data += [UInt8(bits & 0xFF), UInt8(bits >> 8)] }
        let raw = rawSafeTensors(#"{"h":{"dtype":"F16","shape":[65536],"data_offsets":[0,131072]}}"#, data: data)
        let floats = try SafeTensorsFile(data: raw, path: "all-f16").floats(named: "h")
        for bits in 0...UInt16.max {
            let expected = Float(Float16(bitPattern: bits))
            if expected.isNaN {
                XCTAssertTrue(floats[Int(bits)].isNaN)
                // Payload kept: sign and the 10 mantissa bits move up by 13.
                XCTAssertEqual(floats[Int(bits)].bitPattern,
                               UInt32(bits & 0x8000) << 16 | 0x7F80_0000 | UInt32(bits & 0x3FF) << 13)
            } else {
                XCTAssertEqual(floats[Int(bits)].bitPattern, expected.bitPattern, "F16 bits \(String(bits, radix: 16))")
            }
        }
        #endif
    }

    func testEveryBFloat16ConvertsExactly() throws {
        var data: [UInt8] = []
        for bits in 0...UInt16.max { data += [UInt8(bits & 0xFF), UInt8(bits >> 8)] }
        let raw = rawSafeTensors(#"{"b":{"dtype":"BF16","shape":[256,256],"data_offsets":[0,131072]}}"#, data: data)
        let floats = try SafeTensorsFile(data: raw, path: "all-bf16").floats(named: "b")
        for bits in 0...UInt16.max {
            XCTAssertEqual(floats[Int(bits)].bitPattern, UInt32(bits) << 16)
        }
    }

    func testIntegerTypesWiden() throws {
        let header = #"{"u8":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"#
            + #""i8":{"dtype":"I8","shape":[2],"data_offsets":[2,4]},"#
            + #""i16":{"dtype":"I16","shape":[1],"data_offsets":[4,6]},"#
            + #""u16":{"dtype":"U16","shape":[1],"data_offsets":[6,8]},"#
            + #""u32":{"dtype":"U32","shape":[1],"data_offsets":[8,12]},"#
            + #""big":{"dtype":"U64","shape":[1],"data_offsets":[12,20]},"#
            + #""ok":{"dtype":"U64","shape":[1],"data_offsets":[20,28]},"#
            + #""flag":{"dtype":"BOOL","shape":[2],"data_offsets":[28,30]},"#
            + #""d":{"dtype":"F64","shape":[1],"data_offsets":[30,38]}}"#
        var data: [UInt8] = [255, 7, 0x80, 0x7F, 0x00, 0x80, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        data += [UInt8](repeating: 0xFF, count: 8) + [42, 0, 0, 0, 0, 0, 0, 0] + [1, 0]
        data += withUnsafeBytes(of: (0.1 as Double).bitPattern.littleEndian, Array.init)
        let file = try SafeTensorsFile(data: rawSafeTensors(header, data: data), path: "ints")
        XCTAssertEqual(try file.int64s(named: "u8"), [255, 7])
        XCTAssertEqual(try file.int64s(named: "i8"), [-128, 127])
        XCTAssertEqual(try file.int64s(named: "i16"), [-32768])
        XCTAssertEqual(try file.int64s(named: "u16"), [65535])
        XCTAssertEqual(try file.int64s(named: "u32"), [4_294_967_295])
        XCTAssertEqual(try file.int64s(named: "ok"), [42])
        XCTAssertEqual(try file.int64s(named: "flag"), [1, 0])
        XCTAssertEqual(try file.floats(named: "d"), [Float(0.1)])
        assertCheckpointingError(try file.int64s(named: "big"), path: "ints", "18446744073709551615", "Int64")
    }
}
