import DataPipeline
import Foundation
import XCTest

/// The tar reader against tars written by Python's tarfile (`Scripts/make-webdataset-fixtures.py`).
final class TarReaderTests: XCTestCase {
    struct Member: Decodable { var name: String; var size: Int }
    struct Expected: Decodable { var members: [Member] }

    static func expected() throws -> [String: Expected] {
        try JSONDecoder().decode([String: Expected].self,
                                 from: Data(contentsOf: URL(fileURLWithPath: fixturePath("webdataset/expected.json"))))
    }

    private func members(_ path: String) throws -> [TarMember] {
        let reader = try TarReader(path: path)
        var all: [TarMember] = []
        while let member = try reader.next() { all.append(member) }
        return all
    }

    func testRegularMembersAreThoseTarfileListsInGNUPaxAndUstarTars() throws {
        let expected = try Self.expected()
        XCTAssertEqual(expected.keys.sorted(), ["a-gnu.tar", "b-pax.tar", "c-ustar.tar"])
        for (tar, want) in expected {
            let got = try members(fixturePath("webdataset/" + tar))
            XCTAssertEqual(got.map(\.name), want.members.map(\.name), tar)
            XCTAssertEqual(got.map(\.data.count), want.members.map(\.size), tar)
        }
        // The long names really exercise ././@LongLink, pax `path` and the ustar prefix field.
        let names = try expected.values.flatMap { $0.members.map(\.name) }
        XCTAssertTrue(names.contains { $0.utf8.count > 100 && $0.hasPrefix("long/") })
        XCTAssertTrue(names.contains { $0.hasPrefix("ünïcode/") })
        XCTAssertTrue(names.contains { $0.hasPrefix(String(repeating: "p", count: 80) + "/") })
    }

    /// Gzip-compressed tars (`.tar.gz`, `.tgz`) are read through zlib as they stream: the same members
    /// as tarfile lists (`Scripts/make-webdataset-gzip-fixtures.py`: one written by tarfile's "w:gz", one
    /// of two concatenated gzip members cut inside a tar member), the same bytes as the plain tars.
    func testGzipCompressedTarsReadAsTarfileReadsThem() throws {
        struct Listing: Decodable { var members: [Member] }
        let expected = try JSONDecoder().decode([String: Listing].self,
                                                from: Data(contentsOf: URL(fileURLWithPath: fixturePath("webdataset-more/expected.json"))))
        for (packed, plain) in [("a-gnu.tar.gz", "a-gnu.tar"), ("b-pax.tgz", "b-pax.tar")] {
            let got = try members(fixturePath("webdataset-more/" + packed))
            let want = try XCTUnwrap(expected[packed]).members
            XCTAssertEqual(got.map(\.name), want.map(\.name), packed)
            XCTAssertEqual(got.map(\.data.count), want.map(\.size), packed)
            XCTAssertEqual(got, try members(fixturePath("webdataset/" + plain)), packed)
        }
    }

    /// A damaged gzip stream ends the tar like other damage: a `TarError` naming what zlib said and the
    /// offset in the uncompressed tar; the members before it are read.
    func testDamagedGzipIsAnErrorNamingTheOffset() throws {
        let dir = try temporaryDirectory(self)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: fixturePath("webdataset-more/a-gnu.tar.gz")))
        func reading(_ data: Data) throws -> (count: Int, error: TarError?) {
            let path = dir + "/t.tar.gz"
            try data.write(to: URL(fileURLWithPath: path))
            let reader = try TarReader(path: path)
            var count = 0
            do {
                while try reader.next() != nil { count += 1 }
            } catch let error as TarError {
                XCTAssertNil(try reader.next(), "a damaged tar reads no further")
                return (count, error)
            }
            return (count, nil)
        }
        let cut = try reading(bytes.prefix(bytes.count / 2))
        XCTAssertGreaterThan(cut.count, 0)
        XCTAssertTrue(cut.error?.message.hasPrefix("truncated gzip data") ?? false, "\(String(describing: cut.error))")
        var method = bytes
        method[2] = 7   // compression method: only 8 (deflate) exists
        let corrupt = try reading(method)
        XCTAssertEqual(corrupt.count, 0)
        XCTAssertEqual(corrupt.error?.offset, 0)
        XCTAssertEqual(corrupt.error?.message, "corrupt gzip data (unknown compression method)")
        XCTAssertEqual(try reading(bytes).error, nil)
    }

    func testDamageIsAnErrorNamingTheOffset() throws {
        let dir = try temporaryDirectory(self)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: fixturePath("webdataset/c-ustar.tar")))
        func reading(_ data: Data) throws -> (names: [String], error: TarError?) {
            let path = dir + "/t.tar"
            try data.write(to: URL(fileURLWithPath: path))
            let reader = try TarReader(path: path)
            var names: [String] = []
            do {
                while let member = try reader.next() { names.append(member.name) }
            } catch let error as TarError {
                XCTAssertNil(try reader.next(), "a damaged tar reads no further")
                return (names, error)
            }
            return (names, nil)
        }
        // A flipped byte in the second header (at 1536): its checksum no longer matches.
        var flipped = bytes
        flipped[1536 + 3] ^= 0x01
        let corrupt = try reading(flipped)
        XCTAssertEqual(corrupt.names.count, 1)
        XCTAssertEqual(corrupt.error?.offset, 1536)
        XCTAssertEqual(corrupt.error?.message, "corrupt tar header (bad checksum)")
        // Cut inside the second member's data (which starts at 2048).
        let cut = try reading(bytes.prefix(2048 + 10))
        XCTAssertEqual(cut.error?.offset, 2048)
        XCTAssertTrue(cut.error!.description.hasSuffix("t.tar at byte 2048: truncated tar: member \(corrupt.names[0].dropLast(3))txt needs 26 bytes, the file ends at byte 2058"),
                      cut.error!.description)
        // Cut on a header boundary: the end-of-archive block is missing.
        XCTAssertEqual(try reading(bytes.prefix(2560)).error?.message, "truncated tar: no end-of-archive block")
        XCTAssertEqual(try reading(bytes.prefix(2560 + 512)).error, nil)
        // Not a tar at all.
        XCTAssertEqual(try reading(Data(repeating: 0x41, count: 1024)).error?.message, "not a tar file (bad header checksum)")
    }

    func testNumericFieldsOctalAndBase256AndSignedChecksums() throws {
        // A hand-made header: size 0o17 = 15 bytes as octal, then as GNU base-256.
        // The third one names "é.txt" and carries the signed checksum old tar programs wrote.
        func header(size field: [UInt8], name: String = "a.txt", signed: Bool = false) -> [UInt8] {
            var h = [UInt8](repeating: 0, count: 512)
            h.replaceSubrange(0..<name.utf8.count, with: Array(name.utf8))
            h.replaceSubrange(124..<(124 + field.count), with: field)
            h[156] = UInt8(ascii: "0")
            h.replaceSubrange(257..<263, with: Array("ustar\0".utf8))
            let sum = (0..<512).reduce(0) {
                $0 + ((148..<156).contains($1) ? 32 : signed ? Int(Int8(bitPattern: h[$1])) : Int(h[$1]))
            }
            h.replaceSubrange(148..<155, with: Array(String(format: "%06o\0", sum).utf8))
            return h
        }
        let payload = [UInt8]("fifteen bytes!!".utf8)
        let data = payload + [UInt8](repeating: 0, count: 512 - payload.count)
        let end = [UInt8](repeating: 0, count: 1024)
        let octal = header(size: Array("00000000017\0".utf8))
        let base256 = header(size: [0x80] + [UInt8](repeating: 0, count: 10) + [15])
        let path = try temporaryDirectory(self) + "/n.tar"
        let signed = header(size: Array("00000000017\0".utf8), name: "é.txt", signed: true)
        try Data(octal + data + base256 + data + signed + data + end).write(to: URL(fileURLWithPath: path))
        let all = try members(path)
        XCTAssertEqual(all.map(\.name), ["a.txt", "a.txt", "é.txt"])
        XCTAssertEqual(all.map(\.offset), [0, 1024, 2048])
        XCTAssertEqual(all.map(\.data), [payload, payload, payload])
    }
}
