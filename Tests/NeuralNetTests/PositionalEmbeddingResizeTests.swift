import Checkpointing
import Foundation
import NeuralNet
import XCTest

/// The image positional embedding resized to another grid (issue 24.3) against OpenCLIP's own
/// `resize_pos_embed` on the same tensors (Tests/Fixtures/pos-embed, made by
/// Scripts/make-pos-embed-fixtures.py): at most 1e-6 apart, the class token unchanged.
final class PositionalEmbeddingResizeTests: XCTestCase {
    typealias Grid = PositionalEmbeddingResize.Grid

    struct Case: Decodable { let name: String; let from: [Int]; let to: [Int]; let width: Int }

    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Fixtures/pos-embed/resize.safetensors").standardizedFileURL

    func testMatchesOpenCLIPResizePosEmbed() throws {
        let file = try SafeTensorsFile(contentsOf: Self.fixture)
        let cases = try JSONDecoder().decode([Case].self, from: Data(try XCTUnwrap(file.metadata["cases"]).utf8))
        XCTAssertEqual(cases.count, 9)
        func tensor(_ name: String) throws -> Tensor {
            let record = try XCTUnwrap(file.records.first { $0.name == name }, name)
            return Tensor(shape: record.shape, scalars: try file.floats(named: name))
        }
        var worst: Float = 0
        for c in cases {
            let input = try tensor("\(c.name).input"), expected = try tensor("\(c.name).expected")
            let from = Grid(height: c.from[0], width: c.from[1]), to = Grid(height: c.to[0], width: c.to[1])
            let got = PositionalEmbeddingResize.resized(input, from: from, to: to)
            XCTAssertEqual(got.shape, expected.shape, c.name)
            XCTAssertEqual(Array(got.scalars.prefix(c.width)), Array(input.scalars.prefix(c.width)), "\(c.name): class token")
            let diff = zip(got.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThanOrEqual(diff, 1e-6, "\(c.name): max |SwiftCLIP − OpenCLIP|")
            worst = max(worst, diff)
            print("pos-embed resize \(c.name): max |SwiftCLIP − OpenCLIP resize_pos_embed| = \(diff)")
        }
        print("pos-embed resize: worst max abs diff over \(cases.count) cases = \(worst)")
    }

    func testTheSameGridIsLeftAsItIs() {
        let pe = Tensor(shape: [5, 2], scalars: (0..<10).map(Float.init))
        XCTAssertEqual(PositionalEmbeddingResize.resized(pe, from: Grid(side: 2), to: Grid(side: 2)).scalars, pe.scalars)
    }

    func testAConstantGridStaysConstant() {
        // The antialiased weights of every output sum to 1 (cut windows renormalized), so a flat
        // embedding stays flat at every size, shrinking or enlarging.
        for (from, to) in [(2, 5), (7, 3), (16, 3), (3, 7)] {
            let pe = Tensor(shape: [1 + from * from, 3], repeating: 0.25)
            let out = PositionalEmbeddingResize.resized(pe, from: Grid(side: from), to: Grid(side: to))
            XCTAssertEqual(out.shape, [1 + to * to, 3])
            for v in out.scalars { XCTAssertEqual(v, 0.25, accuracy: 1e-6, "\(from) → \(to)") }
        }
    }

    // MARK: - The model.init hook on a ViT

    func vit(imageSize: Int, patchSize: Int, width: Int = 32) throws -> VisionTransformer {
        let json = """
        {"image_size": \(imageSize), "patch_size": \(patchSize), "width": \(width), "layers": 1, "head_width": 16}
        """
        let config = try JSONDecoder().decode(VisionConfig.self, from: Data(json.utf8))
        var rng = RandomGenerator(seed: 1)
        return VisionTransformer(config, embedDim: 8, activation: .gelu, using: &rng)
    }

    func stateDict(of tower: VisionTransformer) -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: tower.namedParameters(prefix: "visual.").map { ($0.name, $0.parameter.value) })
    }

    func testALargerImageSizeResizesTheEmbeddingAndLoads() throws {
        let small = try vit(imageSize: 16, patchSize: 8), large = try vit(imageSize: 32, patchSize: 8)
        var tensors = stateDict(of: small)
        let grids = try XCTUnwrap(try large.resizePositionalEmbedding(in: &tensors, source: "small.safetensors"))
        XCTAssertEqual(grids.from, Grid(side: 2))
        XCTAssertEqual(grids.to, Grid(side: 4))
        XCTAssertEqual(grids.from.description, "2×2")
        XCTAssertEqual(tensors["visual.positional_embedding"]?.shape, [17, 32])
        XCTAssertEqual(tensors["visual.positional_embedding"]?.scalars,
                       PositionalEmbeddingResize.resized(small.positionalEmbedding.value, from: Grid(side: 2), to: Grid(side: 4)).scalars)
        // Everything else fits as it is.
        for (name, p) in large.namedParameters(prefix: "visual.") { XCTAssertEqual(tensors[name]?.shape, p.shape, name) }
        // Weights that already fit are not touched.
        XCTAssertNil(try large.resizePositionalEmbedding(in: &tensors, source: "x"))
    }

    func testAnotherPatchSizeIsRefusedWithTheReason() throws {
        // Same 4×4 grid and a different one: the patch embedding cannot be carried over either way.
        for imageSize in [32, 16] {
            var tensors = stateDict(of: try vit(imageSize: imageSize, patchSize: 8))
            XCTAssertThrowsError(try vit(imageSize: 16, patchSize: 4).resizePositionalEmbedding(in: &tensors, source: "p8.safetensors")) { error in
                let m = String(describing: error)
                XCTAssertTrue(m.contains("p8.safetensors: visual.conv1.weight [32, 3, 8, 8] was trained with patch_size 8, this model's is 4"), m)
                XCTAssertFalse(m.contains("\n"))
            }
        }
    }

    func testAnotherWidthIsRefusedWithTheReason() throws {
        var tensors = stateDict(of: try vit(imageSize: 16, patchSize: 8, width: 16))
        XCTAssertThrowsError(try vit(imageSize: 32, patchSize: 8).resizePositionalEmbedding(in: &tensors, source: "w16")) { error in
            XCTAssertTrue(String(describing: error).contains("w16: visual.positional_embedding is [5, 16], but this model's vision width is 32"), "\(error)")
        }
    }

    func testANonSquareGridIsRefused() throws {
        var tensors = stateDict(of: try vit(imageSize: 16, patchSize: 8))
        tensors["visual.positional_embedding"] = Tensor.zeros([7, 32])   // class token + 6 patches
        XCTAssertThrowsError(try vit(imageSize: 32, patchSize: 8).resizePositionalEmbedding(in: &tensors, source: "odd")) { error in
            XCTAssertTrue(String(describing: error).contains("not a class token plus a square grid"), "\(error)")
        }
    }
}
