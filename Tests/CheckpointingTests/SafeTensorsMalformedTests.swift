import Foundation
import XCTest
import Checkpointing

/// Hostile and damaged files: each must give a one-line error naming the file, never a crash
/// or an allocation sized by what the file claims.
final class SafeTensorsMalformedTests: TemporaryDirectoryTestCase {
    /// A small valid file: F32 [2] then F32 [] then I64 [1] (data 20 bytes).
    private func validFile() throws -> Data {
        var writer = try SafeTensorsWriter()
        try writer.add("a", shape: [2], floats: [1, 2])
        try writer.add("b", shape: [], floats: [3])
        try writer.add("c", shape: [1], int64s: [4])
        return writer.serialized()
    }

    private let f32x2 = #""dtype":"F32","shape":[2]"#

    /// (case name, file bytes, fragments the message must contain)
    private func cases() throws -> [(String, Data, [String])] {
        let valid = try validFile()
        let headerLength = Int(valid[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        let eight = [UInt8](repeating: 0, count: 8)
        let honest = rawSafeTensors(#"{"a":{\#(f32x2),"data_offsets":[0,8]}}"#, data: eight)
        let headerTooLong = rawSafeTensors(#"{"a":{\#(f32x2),"data_offsets":[0,8]}}"#, data: eight,
                                           headerLength: UInt64(honest.count - 8))
        return [
            ("empty", Data(), ["0 bytes, shorter than the 8-byte header length"]),
            ("four-bytes", valid.prefix(4), ["4 bytes"]),
            ("truncated-header", valid.prefix(8 + headerLength / 2), ["runs past the end of the file"]),
            ("truncated-data", valid.prefix(valid.count - 3), ["run past the data region", "truncated?"]),
            ("trailing-bytes", valid + Data([0, 0, 0, 0]), ["last 4 bytes of the data region belong to no tensor"]),
            ("huge-header-length", rawSafeTensors("{}", headerLength: .max), ["exceeds the limit"]),
            ("header-length-200MB", rawSafeTensors("{}", headerLength: 200_000_000), ["exceeds the limit"]),
            ("header-length-past-end", rawSafeTensors("{}", headerLength: 9_999), ["header length 9999 runs past the end"]),
            ("header-length-zero", rawSafeTensors("{}", headerLength: 0), ["too small"]),
            ("header-too-long", headerTooLong, ["not valid JSON"]),  // the length field swallows the data
            ("not-json", rawSafeTensors("this is not json"), ["not valid JSON"]),
            ("json-array", rawSafeTensors("[1, 2]"), ["JSON array, not an object"]),
            ("trailing-garbage", rawSafeTensors("{} x"), ["not valid JSON", "unexpected text"]),
            ("invalid-utf8", rawSafeTensors("{\"\u{FFFD}\":1}").replacing([0xEF, 0xBF, 0xBD], with: [0xFF, 0xFE, 0x20]),
             ["not valid UTF-8"]),
            ("nul-padding", rawSafeTensors("{}") .replacing([0x20], with: [0x00]), ["not valid JSON"]),
            ("deep-nesting", rawSafeTensors("{\"__metadata__\":" + String(repeating: "[", count: 10_000)), ["nesting"]),
            ("entry-not-object", rawSafeTensors(#"{"a":[1]}"#), ["entry 'a' is a JSON array"]),
            ("missing-dtype", rawSafeTensors(#"{"a":{"shape":[2],"data_offsets":[0,8]}}"#, data: eight), ["'a' has no dtype"]),
            ("missing-shape", rawSafeTensors(#"{"a":{"dtype":"F32","data_offsets":[0,8]}}"#, data: eight), ["'a' has no shape"]),
            ("missing-offsets", rawSafeTensors(#"{"a":{\#(f32x2)}}"#, data: eight), ["'a' has no data_offsets"]),
            ("dtype-not-string", rawSafeTensors(#"{"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}}"#, data: eight),
             ["dtype of 'a' is a number"]),
            ("unknown-dtype", rawSafeTensors(#"{"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}"#, data: eight),
             ["unknown dtype 'F33'"]),
            ("unsupported-dtype", rawSafeTensors(#"{"a":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}}"#, data: eight),
             ["F8_E4M3, which is not supported"]),
            ("negative-dimension", rawSafeTensors(#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: eight),
             ["shape of 'a'", "non-negative integer"]),
            ("fractional-dimension", rawSafeTensors(#"{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}"#, data: eight),
             ["shape of 'a'"]),
            ("huge-shape-product", rawSafeTensors(#"{"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,8]}}"#,
                                                  data: eight), ["has too many elements"]),
            ("dimension-overflows-int", rawSafeTensors(#"{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,8]}}"#,
                                                       data: eight), ["shape of 'a'"]),
            ("offsets-reversed", rawSafeTensors(#"{"a":{\#(f32x2),"data_offsets":[8,0]}}"#, data: eight), ["reversed: [8, 0]"]),
            ("offsets-out-of-range", rawSafeTensors(#"{"a":{\#(f32x2),"data_offsets":[1000,1008]}}"#, data: eight),
             ["[1000, 1008] run past the data region (8 bytes"]),
            ("offsets-negative", rawSafeTensors(#"{"a":{\#(f32x2),"data_offsets":[-8,0]}}"#, data: eight), ["two non-negative integers"]),
            ("offsets-three", rawSafeTensors(#"{"a":{\#(f32x2),"data_offsets":[0,4,8]}}"#, data: eight), ["two non-negative integers"]),
            ("offsets-huge", rawSafeTensors(#"{"a":{\#(f32x2),"data_offsets":[0,99999999999999999999]}}"#, data: eight),
             ["two non-negative integers"]),
            ("overlapping", rawSafeTensors(#"{"a":{\#(f32x2),"data_offsets":[0,8]},"b":{\#(f32x2),"data_offsets":[4,12]}}"#,
                                           data: eight + [0, 0, 0, 0]), ["overlaps"]),
            ("same-offsets", rawSafeTensors(#"{"a":{\#(f32x2),"data_offsets":[0,8]},"b":{\#(f32x2),"data_offsets":[0,8]}}"#,
                                            data: eight), ["overlaps"]),
            ("gap", rawSafeTensors(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
                                   data: eight + [0, 0, 0, 0]), ["bytes 4..<8 of the data region belong to no tensor"]),
            ("gap-at-start", rawSafeTensors(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eight),
             ["bytes 0..<4"]),
            ("byte-count-mismatch", rawSafeTensors(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: eight),
             ["F32 × [3] needs 12 bytes, but data_offsets [0, 8] span 8"]),
            ("dtype-size-mismatch", rawSafeTensors(#"{"a":{"dtype":"I64","shape":[2],"data_offsets":[0,8]}}"#, data: eight),
             ["I64 × [2] needs 16 bytes"]),
            ("duplicate-names", rawSafeTensors(#"{"a":{\#(f32x2),"data_offsets":[0,8]},"a":{\#(f32x2),"data_offsets":[0,8]}}"#,
                                               data: eight), ["duplicate key 'a'"]),
            ("metadata-not-object", rawSafeTensors(#"{"__metadata__":"x"}"#), ["__metadata__ is a JSON string"]),
            ("metadata-not-strings", rawSafeTensors(#"{"__metadata__":{"format_version":1}}"#),
             ["value for 'format_version' is a number"]),
            ("newline-in-name", rawSafeTensors(#"{"evil\nname":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}"#, data: eight),
             ["'evil\\u{a}name'"]),
        ]
    }

    func testEachMalformedFileGivesAOneLineErrorNamingIt() throws {
        for (name, bytes, fragments) in try cases() {
            let file = url("\(name).safetensors")
            try bytes.write(to: file)
            let error = assertCheckpointingError(try SafeTensorsFile(contentsOf: file), path: file.path, name)
            for fragment in fragments {
                XCTAssertTrue(error?.description.contains(fragment) == true,
                              "\(name): '\(error?.description ?? "no error")' lacks '\(fragment)'")
            }
            // The in-memory reader agrees.
            XCTAssertThrowsError(try SafeTensorsFile(data: bytes, path: name), name)
        }
    }

    func testEveryTruncationIsRejected() throws {
        let valid = try validFile()
        XCTAssertNoThrow(try SafeTensorsFile(data: valid, path: "valid"))
        for length in 0..<valid.count {
            assertCheckpointingError(try SafeTensorsFile(data: valid.prefix(length), path: "cut-\(length).safetensors"),
                                     path: "cut-\(length).safetensors")
        }
    }

    /// Every single-byte change to the header either still parses (then the file is valid) or
    /// gives a `CheckpointingError` — never a crash.
    func testHeaderByteFlipsNeverCrash() throws {
        let valid = try validFile()
        let headerEnd = 8 + Int(valid[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        for index in 0..<headerEnd {
            for value: UInt8 in [0x00, 0x22, 0x2C, 0x30, 0x39, 0x5B, 0x7B, 0x7D, 0xFF, valid[index] ^ 0x01] {
                var damaged = valid
                damaged[index] = value
                do {
                    let file = try SafeTensorsFile(data: damaged, path: "flip")
                    for name in file.names {
                        if file.record(named: name)!.dtype.isFloatingPoint {
                            _ = try file.floats(named: name)
                        } else {
                            _ = try file.int64s(named: name)
                        }
                    }
                } catch is CheckpointingError {
                    // expected
                }
            }
        }
    }

    func testMissingFileAndDirectoryAreReported() throws {
        assertCheckpointingError(try SafeTensorsFile(contentsOf: url("absent.safetensors")),
                                 path: "absent.safetensors", "No such file or directory")
        assertCheckpointingError(try SafeTensorsFile(contentsOf: temporaryDirectory), path: temporaryDirectory.path,
                                 "not a regular file")
    }

    /// An empty tensor list is valid (header only); zero-size tensors may share an offset.
    func testEdgeCasesThatAreValid() throws {
        XCTAssertEqual(try SafeTensorsFile(data: rawSafeTensors("{}"), path: "e").names, [])
        let zeros = rawSafeTensors(#"{"z1":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"#
            + #""a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"#
            + #""z2":{"dtype":"I64","shape":[3,0],"data_offsets":[4,4]}}"#, data: [0, 0, 0x80, 0x3F])
        let file = try SafeTensorsFile(data: zeros, path: "z")
        XCTAssertEqual(file.names, ["a", "z1", "z2"])
        XCTAssertEqual(try file.floats(named: "a"), [1])
        XCTAssertEqual(try file.int64s(named: "z2"), [])
    }
}

private extension Data {
    func replacing(_ old: [UInt8], with new: [UInt8]) -> Data {
        Data([UInt8](self).replacing(old, with: new))
    }
}
