import Foundation

/// The OpenCLIP model-config keys SwiftCLIP does not implement, and the value each must keep.
///
/// OpenCLIP's `CLIPVisionCfg`, `CLIPTextCfg` and `CLIP(...)` accept many more keys than SwiftCLIP's
/// towers implement (layer scale, attentional pooling, timm or Hugging Face towers, …). A config
/// that sets one of them to anything but OpenCLIP's default describes a different network; loading
/// its weights into ours would be silently wrong, so decoding refuses it with one line naming the
/// key. Keys that only matter when a refused feature is on (`attn_pooler_heads`, `timm_pool`, …) or
/// only at training time (`patch_dropout`: SwiftCLIP's is `model.patch_dropout`) are accepted with
/// any value. Keys neither implemented nor listed here are refused as unknown.
enum OpenCLIPKeys {
    /// What a key that SwiftCLIP does not implement may hold.
    enum Allowed {
        /// Absent or `null`.
        case null
        /// Absent or this value.
        case bool(Bool), string(String)
        /// Absent, `null` or this value.
        case nullOr(String)
        /// Anything (no effect on the network SwiftCLIP builds).
        case any
    }

    static let topLevel: [String: Allowed] = [
        "custom_text": .bool(false), "multimodal_cfg": .null, "nonscalar_logit_scale": .bool(false),
        "cast_dtype": .any, "output_dict": .any,
    ]

    /// Keys both towers share.
    private static let shared: [String: Allowed] = [
        "ls_init_value": .null, "final_ln_after_pool": .bool(false), "act_kwargs": .null, "norm_kwargs": .null,
        "block_type": .nullOr("default"), "qk_norm": .bool(false), "scaled_cosine_attn": .bool(false),
        "scale_heads": .bool(false), "scale_attn_inner": .bool(false), "scale_attn": .bool(false),
        "scale_fc": .bool(false), "output_tokens": .any,
    ]

    static let vision: [String: Allowed] = shared.merging([
        "attentional_pool": .bool(false), "attn_pooler_queries": .any, "attn_pooler_heads": .any,
        "no_ln_pre": .bool(false), "pos_embed_type": .string("learnable"), "timm_model_name": .null,
        "timm_model_pretrained": .any, "timm_pool": .any, "timm_proj": .any, "timm_proj_bias": .any,
        "timm_drop": .any, "timm_drop_path": .any, "timm_model_kwargs": .any,
        "patch_dropout": .any, "image_seq_len": .any,
    ]) { a, _ in a }

    static let text: [String: Allowed] = shared.merging([
        "text_arch": .string("clip"), "variable_text": .bool(false), "hf_tokenizer_name": .null,
        "tokenizer_mode": .null, "tokenizer_kwargs": .null, "tokenizer_type": .string(""), "tiktoken_name": .any,
        "embed_cls": .bool(false), "pad_id": .any, "bos_id": .any, "eos_id": .any,
        "proj_bias": .bool(false), "proj_type": .string("linear"), "hf_model_name": .null,
        "hf_model_pretrained": .any, "hf_proj_type": .any, "hf_pooler_type": .any, "hf_model_config": .any,
        // The ModernTextTransformer's settings (used only with text_arch: modern, refused above).
        "attention_mode": .any, "pos_embed": .any, "rope_temperature": .any, "mlp_type": .any, "norm_type": .any,
        "norm_eps": .any, "attn_gated": .any, "pre_norm": .any, "norm_placement": .any, "zero_init_residual": .any,
        "reg_tokens": .any, "value_residual": .any, "attention_bias": .any, "mlp_bias": .any, "gate_bias": .any,
    ]) { a, _ in a }

    /// Any string as a coding key (to list and read the keys a JSON object holds).
    struct Key: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    /// Refuses, naming `vision_cfg.key` (the path of `decoder`), a key of `decoder`'s object that is neither in `implemented`
    /// nor in `policy`, or one in `policy` whose value differs from what it allows.
    static func check(_ decoder: Decoder, implemented: Set<String>, policy: [String: Allowed]) throws {
        let section = decoder.codingPath.map(\.stringValue).joined(separator: ".")
        let c = try decoder.container(keyedBy: Key.self)
        for key in c.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) where !implemented.contains(key.stringValue) {
            let name = section.isEmpty ? key.stringValue : "\(section).\(key.stringValue)"
            guard let allowed = policy[key.stringValue] else {
                throw ModelError("\(name): unknown model-config key (SwiftCLIP implements OpenCLIP's ViT CLIP and refuses what it cannot build)")
            }
            let ok: Bool
            switch allowed {
            case .any: ok = true
            case .null: ok = try c.decodeNil(forKey: key)
            case .bool(let value): ok = (try? c.decode(Bool.self, forKey: key)) == value
            case .string(let value): ok = (try? c.decode(String.self, forKey: key)) == value
            case .nullOr(let value): ok = try c.decodeNil(forKey: key) || (try? c.decode(String.self, forKey: key)) == value
            }
            guard ok else {
                throw ModelError("\(name): OpenCLIP option not implemented by SwiftCLIP (only its default is supported)")
            }
        }
    }
}
