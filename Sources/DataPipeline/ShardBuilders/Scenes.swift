import Foundation
import TensorCore

/// One object of a `Scene`: a shape of a named color and size, in one cell of a 3×3 grid.
public struct SceneObject: Sendable, Equatable {
    public enum Shape: String, CaseIterable, Sendable {
        case circle, square, triangle, diamond, cross, ring, star
    }

    public enum Color: String, CaseIterable, Sendable {
        case red, orange, yellow, green, cyan, blue, purple, pink, white

        /// The fill color. Every one has a channel ≥ 200, well above any background pixel (≤ 100).
        public var rgb: (r: UInt8, g: UInt8, b: UInt8) {
            switch self {
            case .red: return (220, 40, 40)
            case .orange: return (245, 140, 20)
            case .yellow: return (240, 220, 40)
            case .green: return (50, 180, 60)
            case .cyan: return (40, 210, 220)
            case .blue: return (40, 80, 230)
            case .purple: return (140, 60, 200)
            case .pink: return (245, 130, 190)
            case .white: return (245, 245, 245)
            }
        }
    }

    public enum Size: String, CaseIterable, Sendable {
        case small, large

        /// Diameter as a fraction of a grid cell's side.
        var diameter: Float { self == .small ? 0.42 : 0.78 }
    }

    /// Where each grid cell is, as the captions say it; index = cell, in reading order.
    public static let cellPhrases = ["at the top left", "at the top", "at the top right",
                                     "on the left", "in the center", "on the right",
                                     "at the bottom left", "at the bottom", "at the bottom right"]

    public var shape: Shape
    public var color: Color
    public var size: Size
    /// Cell of the 3×3 grid, 0 ..< 9 in reading order (0 top left, 4 center, 8 bottom right).
    public var cell: Int
    /// The object's center relative to its cell's center, in -1...1 of the room the object has to move
    /// (0: centered). Objects stay inside their cell, so objects in different cells never overlap.
    public var offsetX: Float
    public var offsetY: Float

    public init(_ size: Size, _ color: Color, _ shape: Shape, cell: Int, offsetX: Float = 0, offsetY: Float = 0) {
        ensure((0..<9).contains(cell), "a scene object's cell is 0..<9, got \(cell)")
        ensure(abs(offsetX) <= 1 && abs(offsetY) <= 1, "a scene object's offsets are in -1...1, got \(offsetX), \(offsetY)")
        self.shape = shape
        self.color = color
        self.size = size
        self.cell = cell
        self.offsetX = offsetX
        self.offsetY = offsetY
    }

    /// "A large red circle at the top left."
    public var sentence: String {
        "A \(size.rawValue) \(color.rawValue) \(shape.rawValue) \(Self.cellPhrases[cell])."
    }
}

/// A procedurally drawn picture for Long-CLIP and FILIP experiments: a plain or lightly textured dark
/// background with 2–4 objects in distinct cells of a 3×3 grid.
///
/// The long caption names every object in reading order, one sentence each
/// ("A large red circle at the top left. A small blue square in the center."); the short caption is its
/// first sentence. 7 shapes × 9 colors × 2 sizes × 9 cells make captions that differ in one word,
/// which rewards token-level matching.
public struct Scene: Sendable, Equatable {
    public enum Background: String, CaseIterable, Sendable {
        /// One color.
        case plain
        /// ± 6 of per-pixel noise.
        case noise
        /// Diagonal stripes, ± 6.
        case stripes
        /// A checkerboard, ± 5.
        case checks
    }

    public var background: Background
    /// The background's base color, each channel in 30...92.
    public var backgroundRGB: [UInt8]
    /// Draws the texture's noise, stripe period or check size.
    public var textureSeed: UInt64
    /// In reading order (increasing cell), each in its own cell.
    public var objects: [SceneObject]

    public init(background: Background = .plain, backgroundRGB: [UInt8] = [60, 60, 60], textureSeed: UInt64 = 0,
                objects: [SceneObject]) {
        ensure(backgroundRGB.count == 3 && backgroundRGB.allSatisfy { (30...92).contains($0) },
                "a scene's background color is 3 channels in 30...92, got \(backgroundRGB)")
        ensure(!objects.isEmpty, "a scene needs at least one object")
        ensure(zip(objects, objects.dropFirst()).allSatisfy { $0.cell < $1.cell },
                "a scene's objects are in reading order, one per cell, got cells \(objects.map(\.cell))")
        self.background = background
        self.backgroundRGB = backgroundRGB
        self.textureSeed = textureSeed
        self.objects = objects
    }

    /// Every object, one sentence each, in reading order.
    public var longCaption: String { objects.map(\.sentence).joined(separator: " ") }
    /// The first sentence of the long caption (the first object in reading order).
    public var shortCaption: String { objects[0].sentence }

    /// A random scene: 2–4 objects in distinct cells, each shape, color and size uniform; the background
    /// plain half of the time.
    public static func random(using rng: inout some RandomNumberGenerator) -> Scene {
        let background: Background = Bool.random(using: &rng)
            ? .plain : [.noise, .stripes, .checks][Int.random(in: 0..<3, using: &rng)]
        let level = Int.random(in: 40...80, using: &rng)
        let rgb = (0..<3).map { _ in UInt8(level + Int.random(in: -10...10, using: &rng)) }
        let textureSeed = rng.next()
        // Partial Fisher–Yates: the first `count` cells of a shuffled 0..<9.
        let count = Int.random(in: 2...4, using: &rng)
        var cells = Array(0..<9)
        for i in 0..<count { cells.swapAt(i, Int.random(in: i..<9, using: &rng)) }
        let objects = cells[0..<count].sorted().map { cell in
            SceneObject(SceneObject.Size.allCases[Int.random(in: 0..<2, using: &rng)],
                        SceneObject.Color.allCases[Int.random(in: 0..<SceneObject.Color.allCases.count, using: &rng)],
                        SceneObject.Shape.allCases[Int.random(in: 0..<SceneObject.Shape.allCases.count, using: &rng)],
                        cell: cell,
                        offsetX: Float.random(in: -1...1, using: &rng), offsetY: Float.random(in: -1...1, using: &rng))
        }
        return Scene(background: background, backgroundRGB: rgb, textureSeed: textureSeed, objects: objects)
    }

    /// Draws the scene at `size × size` pixels (`size` ≥ 24). Object edges are anti-aliased with 4×4
    /// samples per pixel.
    public func render(size: Int) -> RGBImage {
        ensure(size >= 24, "scenes are drawn at 24×24 pixels or more, got \(size)")
        var pixels = [UInt8](repeating: 0, count: size * size * 3)
        drawBackground(size: size, into: &pixels)
        let cellSide = Float(size) / 3
        for object in objects {
            let radius = object.size.diameter * cellSide / 2
            let room = 0.8 * (cellSide / 2 - radius)    // keeps a margin to the cell's border
            let cx = (Float(object.cell % 3) + 0.5) * cellSide + object.offsetX * room
            let cy = (Float(object.cell / 3) + 0.5) * cellSide + object.offsetY * room
            let (r, g, b) = object.color.rgb
            let color = [Float(r), Float(g), Float(b)]
            let x0 = max(0, Int((cx - radius).rounded(.down))), x1 = min(size - 1, Int((cx + radius).rounded(.up)))
            let y0 = max(0, Int((cy - radius).rounded(.down))), y1 = min(size - 1, Int((cy + radius).rounded(.up)))
            for y in y0...y1 {
                for x in x0...x1 {
                    var hits = 0
                    for sy in 0..<4 {
                        let v = (Float(y) + (Float(sy) + 0.5) / 4 - cy) / radius
                        for sx in 0..<4 {
                            let u = (Float(x) + (Float(sx) + 0.5) / 4 - cx) / radius
                            if object.shape.contains(u, v) { hits += 1 }
                        }
                    }
                    guard hits > 0 else { continue }
                    let alpha = Float(hits) / 16
                    let o = (y * size + x) * 3
                    for c in 0..<3 {
                        let blended = Float(pixels[o + c]) * (1 - alpha) + color[c] * alpha
                        pixels[o + c] = UInt8(blended.rounded())
                    }
                }
            }
        }
        return RGBImage(height: size, width: size, pixels: pixels)
    }

    private func drawBackground(size: Int, into pixels: inout [UInt8]) {
        var rng = RandomGenerator(seed: textureSeed)
        let period = Float(Int.random(in: 6...10, using: &rng))
        let check = Int.random(in: 4...8, using: &rng)
        for y in 0..<size {
            for x in 0..<size {
                let delta: Int
                switch background {
                case .plain: delta = 0
                case .noise: delta = Int.random(in: -6...6, using: &rng)
                case .stripes: delta = Int((6 * sin(2 * Float.pi * Float(x + y) / period)).rounded())
                case .checks: delta = (x / check + y / check) % 2 == 0 ? 5 : -5
                }
                let o = (y * size + x) * 3
                for c in 0..<3 { pixels[o + c] = UInt8(Int(backgroundRGB[c]) + delta) }
            }
        }
    }
}

extension SceneObject.Shape {
    /// Whether (u, v) — x right, y down, in units of the object's radius around its center — is inside.
    func contains(_ u: Float, _ v: Float) -> Bool {
        switch self {
        case .circle: return u * u + v * v <= 1
        case .square: return max(abs(u), abs(v)) <= 0.82
        case .diamond: return abs(u) + abs(v) <= 1
        case .triangle:   // apex up at v = -0.9, base at v = 0.8, half-width 0.95 at the base
            return v >= -0.9 && v <= 0.8 && abs(u) <= 0.95 * (v + 0.9) / 1.7
        case .cross: return (abs(u) <= 0.3 && abs(v) <= 0.95) || (abs(v) <= 0.3 && abs(u) <= 0.95)
        case .ring:
            let r2 = u * u + v * v
            return r2 >= 0.55 * 0.55 && r2 <= 1
        case .star: return Self.inside(u, v, polygon: Self.starVertices)
        }
    }

    /// A five-pointed star, point up: outer radius 1, inner radius 0.45.
    private static let starVertices: [(Float, Float)] = (0..<10).map { k in
        let angle = Float.pi * (Float(k) / 5 - 0.5)
        let r: Float = k % 2 == 0 ? 1 : 0.45
        return (r * cos(angle), r * sin(angle))
    }

    /// Even–odd rule.
    private static func inside(_ u: Float, _ v: Float, polygon: [(Float, Float)]) -> Bool {
        var inside = false
        var j = polygon.count - 1
        for i in 0..<polygon.count {
            let (xi, yi) = polygon[i], (xj, yj) = polygon[j]
            if (yi > v) != (yj > v) && u < (xj - xi) * (v - yi) / (yj - yi) + xi { inside.toggle() }
            j = i
        }
        return inside
    }
}

// MARK: - Shards

/// `count` procedurally drawn scenes (see `Scene`); scene `i` is drawn from a generator seeded by
/// `(seed, i)`, so a dataset does not depend on the shard size and a larger `count` extends a smaller one.
public struct ScenesSource: Sendable {
    public var count: Int
    public var seed: UInt64 = 0
    /// H = W of the stored images (≥ 24).
    public var imageSize = 64

    public init(count: Int, seed: UInt64 = 0, imageSize: Int = 64) {
        self.count = count
        self.seed = seed
        self.imageSize = imageSize
    }

    /// Scene `index` of the dataset.
    public func scene(at index: Int) -> Scene {
        var rng = RandomGenerator(seed: RandomGenerator.derivedSeed(seed, domain: 4, UInt64(index)))
        return Scene.random(using: &rng)
    }
}

/// Builds scene shards: `/images` [N, S, S, 3], `/captions` (the short caption, one object) and
/// `/long_captions` (every object).
@discardableResult
public func buildShards(from source: ScenesSource, output: String, shardSize: Int, overwrite: Bool = false,
                        progressStyle: BuildProgress.Style = .silent) throws -> BuildSummary {
    guard source.count > 0 else { throw ShardBuildError(description: "--count must be positive, got \(source.count)") }
    guard source.imageSize >= 24 else {
        throw ShardBuildError(description: "--image-size must be at least 24, got \(source.imageSize)")
    }
    let writer = try ShardSetWriter(output: output, shardSize: shardSize, overwrite: overwrite,
                                    progress: BuildProgress(total: source.count, style: progressStyle))
    for i in 0..<source.count {
        let scene = source.scene(at: i)
        try writer.append(ShardItem(image: .raw(scene.render(size: source.imageSize)),
                                    caption: scene.shortCaption, longCaption: scene.longCaption))
    }
    return try writer.finish()
}
