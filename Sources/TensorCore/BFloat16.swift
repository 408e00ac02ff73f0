/// fp32 → bf16 rounding (bfloat16: fp32's sign and 8-bit exponent, 7 stored mantissa bits, i.e.
/// the upper half of an fp32 bit pattern).
///
/// Rounding is to nearest, ties to even, on the bit pattern: `(bits + 0x7FFF + lsb) >> 16`, with
/// `lsb` the lowest kept bit. That one formula is exact for normals, subnormals (same exponent
/// range as fp32), ±0, ±Inf and overflow (the largest floats round up to Inf, as IEEE rounding
/// does); NaNs keep sign and payload and are made quiet (so no NaN turns into Inf).
public enum BFloat16 {
    /// The bf16 bit pattern nearest to `x` (scalar form of the kernels below).
    @inline(__always)
    public static func bits(_ x: Float) -> UInt16 {
        let v = x.bitPattern
        if v & 0x7FFF_FFFF > 0x7F80_0000 { return UInt16(truncatingIfNeeded: v >> 16) | 0x0040 }
        return UInt16(truncatingIfNeeded: (v &+ 0x7FFF &+ ((v >> 16) & 1)) >> 16)
    }

    /// The fp32 value of the bf16 pattern `b` (exact).
    @inline(__always)
    public static func float(_ b: UInt16) -> Float { Float(bitPattern: UInt32(b) << 16) }

    /// Eight rounded patterns, still in the low halves of 32-bit lanes. Branch-free: the NaN lanes
    /// are selected by a mask made from the sign of `0x7F800000 − |bits|` (negative only for NaN).
    @inline(__always)
    static func rounded(_ v: SIMD8<UInt32>) -> SIMD8<UInt32> {
        let nearest = (v &+ 0x7FFF &+ ((v &>> 16) & 1)) &>> 16
        let quietNaN = (v &>> 16) | 0x0040
        let nan = unsafeBitCast(unsafeBitCast(0x7F80_0000 &- (v & 0x7FFF_FFFF), to: SIMD8<Int32>.self) &>> 31, to: SIMD8<UInt32>.self)
        return (nearest & ~nan) | (quietNaN & nan)
    }

    /// Rounds `count` floats to bf16 patterns: `dst[i] = bits(src[i])`.
    public static func round(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<UInt16>, count: Int) {
        var i = 0
        let raw = UnsafeRawPointer(src)
        let out = UnsafeMutableRawPointer(dst)
        while i + 8 <= count {
            let r = rounded(raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<UInt32>.self))
            // One vector narrowing and one 16-byte store (lane-by-lane stores made this the
            // costliest step of bf16 attention).
            out.storeBytes(of: SIMD8<UInt16>(truncatingIfNeeded: r), toByteOffset: 2 * i, as: SIMD8<UInt16>.self)
            i += 8
        }
        while i < count { dst[i] = bits(src[i]); i += 1 }
    }

    /// Rounds `count` floats to the nearest bf16 values, kept in fp32 (low 16 bits zero):
    /// `dst[i] = float(bits(src[i]))`. `dst` may be `src`.
    public static func round(_ src: UnsafePointer<Float>, toFloats dst: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        let raw = UnsafeRawPointer(src), out = UnsafeMutableRawPointer(dst)
        while i + 8 <= count {
            let r = rounded(raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<UInt32>.self))
            out.storeBytes(of: r &<< 16, toByteOffset: 4 * i, as: SIMD8<UInt32>.self)
            i += 8
        }
        while i < count { dst[i] = float(bits(src[i])); i += 1 }
    }
}
