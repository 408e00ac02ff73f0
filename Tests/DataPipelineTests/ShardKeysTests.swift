import DataPipeline
import Foundation
import XCTest

/// The optional `/keys` dataset: written when every item has a key, read back, checked for length.
final class ShardKeysTests: XCTestCase {
    func testKeysRoundTripAndAreOptional() throws {
        let dir = try temporaryDirectory(self)
        let keys = ["000000001", "dir/ünïcode-key", "x"]
        let writer = ShardWriter(path: dir + "/k.h5")
        for (i, key) in keys.enumerated() { try writer.append(ShardItem(image: .jpeg([UInt8(i)]), caption: "c\(i)", key: key)) }
        try writer.finish()
        let reader = try ShardReader(path: dir + "/k.h5")
        XCTAssertTrue(reader.hasKeys)
        XCTAssertEqual(try reader.keys(), keys)
        XCTAssertEqual(try reader.keys(rows: 1..<2), [keys[1]])
        XCTAssertEqual(try reader.item(at: 2), ShardItem(image: .jpeg([2]), caption: "c2", key: "x"))

        let plain = try ShardReader(path: fixturePath("h5py-jpeg.h5"))
        XCTAssertFalse(plain.hasKeys)
        XCTAssertNil(try plain.item(at: 0).key)
        XCTAssertThrowsError(try plain.keys()) { XCTAssertEqual(($0 as? ShardError)?.kind, .missingDataset) }
    }

    func testKeysForSomeItemsOnlyAreRefused() throws {
        let writer = ShardWriter(path: try temporaryDirectory(self) + "/k.h5")
        try writer.append(ShardItem(image: .jpeg([1]), caption: "a", key: "a"))
        XCTAssertThrowsError(try writer.append(ShardItem(image: .jpeg([1]), caption: "b"))) { error in
            XCTAssertTrue("\(error)".hasSuffix("item 1: keys must be given for every item or for none"), "\(error)")
        }
    }

    func testKeysOfTheWrongLengthAreAOneLineError() throws {
        let path = try temporaryDirectory(self) + "/bad.h5"
        let file = try HDF5File(path: path, mode: .create)
        try file.setAttribute("format", string: "swiftclip-shard")
        try file.setAttribute("version", integer: 1)
        try file.writeVariableBytes("/jpeg", values: [[1], [2]])
        try file.writeStrings("/captions", values: ["a", "b"])
        try file.writeStrings("/keys", values: ["only one"])
        try file.close()
        XCTAssertThrowsError(try ShardReader(path: path)) { error in
            XCTAssertEqual("\(error)", "\(path): inconsistent lengths: /jpeg has 2 items, /keys has 1")
        }
    }
}
