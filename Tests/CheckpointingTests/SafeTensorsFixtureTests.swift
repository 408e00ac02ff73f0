import Foundation
import XCTest
import Checkpointing

/// Files made by PyTorch's safetensors (`Scripts/make-safetensors-fixtures.py make`) read with the
/// values numpy/torch themselves convert them to.
final class SafeTensorsFixtureTests: XCTestCase {
    private let file = fixturesDirectory.appendingPathComponent("reference-torch.safetensors")

    private struct Expected: Decodable {
        struct Tensor: Decodable {
            let dtype: String
            let shape: [Int]
            let f32_bits: [String]?
            let int64: [String]?
        }
        let file_crc32: String
        let tensors: [String: Tensor]
    }

    private func expected() throws -> Expected {
        let url = fixturesDirectory.appendingPathComponent("reference-torch.expected.json")
        return try JSONDecoder().decode(Expected.self, from: Data(contentsOf: url))
    }

    func testReadsEveryTensorAsTheReferenceConvertsIt() throws {
        let read = try SafeTensorsFile(contentsOf: file)
        let expected = try expected()
        XCTAssertEqual(Set(read.names), Set(expected.tensors.keys))
        XCTAssertEqual(read.metadata, ["format": "pt", "producer": "make-safetensors-fixtures.py"])
        let dtypes: [String: DType] = ["float32": .float32, "float16": .float16, "bfloat16": .bfloat16,
                                       "int64": .int64, "int32": .int32, "uint8": .uint8]
        for (name, tensor) in expected.tensors {
            let record = try XCTUnwrap(read.record(named: name))
            XCTAssertEqual(record.shape, tensor.shape, name)
            XCTAssertEqual(record.dtype, dtypes[tensor.dtype], name)
            if let bits = tensor.f32_bits {
                XCTAssertEqual(try read.floats(named: name).map { $0.bits.leftPadded(8) }, bits, name)
            } else {
                XCTAssertEqual(try read.int64s(named: name).map(String.init), tensor.int64, name)
            }
        }
    }

    /// Spot checks against closed forms, independent of the JSON.
    func testKnownValues() throws {
        let read = try SafeTensorsFile(contentsOf: file)
        XCTAssertEqual(read.record(named: "logit_scale")?.shape, [])
        XCTAssertEqual(try read.floats(named: "logit_scale"), [Float(log(1 / 0.07))])
        let f16 = try read.floats(named: "f16")
        XCTAssertEqual(Array(f16[0..<5]), [1, -2.5, 65504, 0x1p-14, 0x1p-24])
        XCTAssertEqual(f16[5], 0.0999755859375)  // 0.1 rounded to F16
        XCTAssertEqual(f16[6], .infinity)
        XCTAssertEqual(f16[7].bitPattern, (-0.0 as Float).bitPattern)
        XCTAssertTrue(f16[8].isNaN)
        let bf16 = try read.floats(named: "bf16")
        XCTAssertEqual(bf16[0], 1)
        XCTAssertEqual(bf16[1], 3.140625)  // pi rounded to 8 significant bits
        XCTAssertEqual(bf16[3], 0x1p-133)  // smallest BF16 subnormal
        XCTAssertEqual(bf16[4], -.infinity)
        XCTAssertEqual(try read.int64s(named: "i64"), [0, .min, .max, 49407])
        XCTAssertEqual(try read.int64s(named: "i32"), [-2_147_483_648, 2_147_483_647, 7])
        XCTAssertEqual(try read.int64s(named: "u8"), [0, 1, 127, 255])
        XCTAssertEqual(read.record(named: "empty")?.shape, [0, 4])
        XCTAssertEqual(try read.floats(named: "empty"), [])
    }

    /// CRC-32 of a real file agrees with Python's `zlib.crc32`.
    func testChecksumMatchesZlib() throws {
        let bytes = try Data(contentsOf: file)
        XCTAssertEqual(CRC32.checksum(bytes).hexDigits, try expected().file_crc32)
    }
}

private extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

private extension UInt32 {
    var hexDigits: String { CRC32.hex(self) }
}
