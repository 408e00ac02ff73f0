import Foundation

/// OpenCLIP's `preprocess_cfg` (the `open_clip_config.json` of a hub folder): how a model's
/// evaluation images are made — size, per-channel mean and std, interpolation, resize mode and the
/// fill color that pads `longest`. Omitted keys take OpenCLIP's `PreprocessCfg` defaults (OpenAI
/// mean/std, bicubic, shortest); keys OpenCLIP does not read are ignored, as OpenCLIP does.
public struct PreprocessConfig: Codable, Equatable, Sendable {
    /// Image side as written (`export` writes the model's). Reading ignores it: OpenCLIP sets the
    /// transform's size from the model's `image_size`, and so does `evaluationTransform`.
    public var size: Int?
    public var mode: String
    public var mean: [Double]      // [3]
    public var std: [Double]       // [3]
    /// `bicubic`, `bilinear`, or `random` (a training option; evaluation is bicubic then, as OpenCLIP).
    public var interpolation: String
    /// `shortest`, `longest` or `squash` (see `ResizeMode`).
    public var resizeMode: String
    public var fillColor: Int

    enum CodingKeys: String, CodingKey {
        case size, mode, mean, std, interpolation, resizeMode = "resize_mode", fillColor = "fill_color"
    }

    /// What SwiftCLIP trains with: OpenAI's mean and std, bicubic, shortest side and center crop.
    public init(size: Int? = nil, augmentation: Augmentation = .none) {
        self.size = size
        mode = "RGB"
        if augmentation.normalization == .openAI {   // OpenCLIP's OPENAI_DATASET_MEAN / _STD, digit for digit
            (mean, std) = ([0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711])
        } else {   // the shortest decimals that read back as the same Float (0.3, not 0.30000001192092896)
            (mean, std) = (augmentation.normalization.mean.map { Double("\($0)")! }, augmentation.normalization.std.map { Double("\($0)")! })
        }
        interpolation = augmentation.filter.rawValue
        resizeMode = augmentation.resizeMode.rawValue
        fillColor = Int(augmentation.fill)
    }

    public init(from decoder: Decoder) throws {
        let defaults = PreprocessConfig()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        size = (try? c.decodeIfPresent(Int.self, forKey: .size)) ?? (try? c.decodeIfPresent([Int].self, forKey: .size))?.first
        mode = try c.decodeIfPresent(String.self, forKey: .mode) ?? defaults.mode
        mean = try c.decodeIfPresent([Double].self, forKey: .mean) ?? defaults.mean
        std = try c.decodeIfPresent([Double].self, forKey: .std) ?? defaults.std
        interpolation = try c.decodeIfPresent(String.self, forKey: .interpolation) ?? defaults.interpolation
        resizeMode = try c.decodeIfPresent(String.self, forKey: .resizeMode) ?? defaults.resizeMode
        fillColor = try c.decodeIfPresent(Int.self, forKey: .fillColor) ?? defaults.fillColor
    }

    /// The evaluation transform (the loader applies it at the model's image size); a value
    /// SwiftCLIP cannot apply exactly is refused with one line naming the key.
    public func evaluationTransform() throws -> Augmentation {
        func refuse(_ key: String, _ why: String) -> Unsupported { Unsupported("preprocess_cfg.\(key): \(why)") }
        guard mode == "RGB" else { throw refuse("mode", "\(mode) is not supported (RGB only)") }
        guard mean.count == 3, std.count == 3, std.allSatisfy({ $0 > 0 }), (mean + std).allSatisfy(\.isFinite) else {
            throw refuse(mean.count == 3 ? "std" : "mean", "expected 3 finite values (std positive), got mean \(mean), std \(std)")
        }
        let filter: ResizeFilter
        switch interpolation {
        case "bicubic", "random": filter = .bicubic
        case "bilinear": filter = .bilinear
        default: throw refuse("interpolation", "\(interpolation) is not supported (bicubic, bilinear)")
        }
        guard let resize = ResizeMode(rawValue: resizeMode) else {
            throw refuse("resize_mode", "\(resizeMode) is not supported (shortest, longest, squash)")
        }
        guard (0...255).contains(fillColor) else { throw refuse("fill_color", "expected a gray level 0...255, got \(fillColor)") }
        return Augmentation(randomResizedCrop: nil, filter: filter,
                            normalization: Normalization(mean: mean.map(Float.init), std: std.map(Float.init)),
                            resizeMode: resize, fill: UInt8(fillColor))
    }

    /// A preprocess_cfg value SwiftCLIP cannot apply, with a one-line message.
    public struct Unsupported: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }
}
