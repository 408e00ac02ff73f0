import Foundation

/// OpenCLIP's standard ViT architectures by name (`model.config: ViT-B-32`, `--model-config`,
/// `bench step --config`): each entry is the text of OpenCLIP's
/// `src/open_clip/model_configs/NAME.json` (MIT licence), decoded as any model-config file is.
/// Only architectures SwiftCLIP builds exactly are listed (plain pre-LN ViT and text transformer,
/// GELU or QuickGELU); `-quickgelu` variants are OpenAI's original activation.
extension ModelConfig {
    static let builtInJSON: [(name: String, json: String)] = [
        ("ViT-B-32",
         #"{"embed_dim": 512, "vision_cfg": {"image_size": 224, "layers": 12, "width": 768, "patch_size": 32}, "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 512, "heads": 8, "layers": 12}}"#),
        ("ViT-B-32-quickgelu",
         #"{"embed_dim": 512, "quick_gelu": true, "vision_cfg": {"image_size": 224, "layers": 12, "width": 768, "patch_size": 32}, "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 512, "heads": 8, "layers": 12}}"#),
        ("ViT-B-16",
         #"{"embed_dim": 512, "vision_cfg": {"image_size": 224, "layers": 12, "width": 768, "patch_size": 16}, "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 512, "heads": 8, "layers": 12}}"#),
        ("ViT-B-16-quickgelu",
         #"{"embed_dim": 512, "quick_gelu": true, "vision_cfg": {"image_size": 224, "layers": 12, "width": 768, "patch_size": 16}, "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 512, "heads": 8, "layers": 12}}"#),
        ("ViT-L-14",
         #"{"embed_dim": 768, "vision_cfg": {"image_size": 224, "layers": 24, "width": 1024, "patch_size": 14}, "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 768, "heads": 12, "layers": 12}}"#),
        ("ViT-L-14-quickgelu",
         #"{"embed_dim": 768, "quick_gelu": true, "vision_cfg": {"image_size": 224, "layers": 24, "width": 1024, "patch_size": 14}, "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 768, "heads": 12, "layers": 12}}"#),
        ("ViT-L-14-336",
         #"{"embed_dim": 768, "vision_cfg": {"image_size": 336, "layers": 24, "width": 1024, "patch_size": 14}, "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 768, "heads": 12, "layers": 12}}"#),
        ("ViT-L-14-336-quickgelu",
         #"{"embed_dim": 768, "quick_gelu": true, "vision_cfg": {"image_size": 336, "layers": 24, "width": 1024, "patch_size": 14}, "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 768, "heads": 12, "layers": 12}}"#),
        ("ViT-H-14",
         #"{"embed_dim": 1024, "vision_cfg": {"image_size": 224, "layers": 32, "width": 1280, "head_width": 80, "patch_size": 14}, "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 1024, "heads": 16, "layers": 24}}"#),
        ("ViT-H-14-quickgelu",
         #"{"embed_dim": 1024, "quick_gelu": true, "vision_cfg": {"image_size": 224, "layers": 32, "width": 1280, "head_width": 80, "patch_size": 14}, "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 1024, "heads": 16, "layers": 24}}"#),
        ("ViT-g-14",
         #"{"embed_dim": 1024, "vision_cfg": {"image_size": 224, "layers": 40, "width": 1408, "head_width": 88, "mlp_ratio": 4.3637, "patch_size": 14}, "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 1024, "heads": 16, "layers": 24}}"#),
        ("ViT-bigG-14",
         #"{"embed_dim": 1280, "vision_cfg": {"image_size": 224, "layers": 48, "width": 1664, "head_width": 104, "mlp_ratio": 4.9231, "patch_size": 14}, "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 1280, "heads": 20, "layers": 32}}"#),
        ("ViT-bigG-14-quickgelu",
         #"{"embed_dim": 1280, "quick_gelu": true, "vision_cfg": {"image_size": 224, "layers": 48, "width": 1664, "head_width": 104, "mlp_ratio": 4.9231, "patch_size": 14}, "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 1280, "heads": 20, "layers": 32}}"#),
    ]

    /// The built-in architecture names, in OpenCLIP's order.
    public static var builtInNames: [String] { builtInJSON.map(\.name) }

    /// The built-in architecture `name` (exact spelling, as OpenCLIP's), or nil.
    public static func builtIn(_ name: String) -> ModelConfig? {
        guard let json = builtInJSON.first(where: { $0.name == name })?.json else { return nil }
        return try! JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8))
    }

    /// A model-config JSON file at `nameOrPath`, else the built-in architecture of that name;
    /// anything else is refused with one line listing the names.
    public static func resolve(_ nameOrPath: String) throws -> ModelConfig {
        if FileManager.default.fileExists(atPath: nameOrPath) { return try load(URL(fileURLWithPath: nameOrPath)) }
        if let config = builtIn(nameOrPath) { return config }
        throw ModelError("\(nameOrPath): neither a model-config JSON file nor a built-in architecture ("
            + builtInNames.joined(separator: ", ") + ")")
    }
}
