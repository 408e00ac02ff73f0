internal import CDNNL
import Foundation

/// The one file that talks to oneDNN (Debian 12's libdnnl 2.6, OpenMP runtime): row-major
/// matmul primitives with fp32 output and accumulation, cached per thread and shape.
///
/// oneDNN 2.6 has no public bf16 GEMM function, so each GEMM shape gets a matmul primitive whose
/// memory descriptors carry the strides (transposes and leading dimensions cost nothing), `alpha`
/// as output scale and `beta` as a sum post-op. Shapes repeat every training step, so a primitive
/// is created once per (shape, strides, alpha, beta, thread count) on each thread and reused.
///
/// A problem may carry leading batch axes (e.g. [items, heads] for attention): one call then runs
/// every GEMM of the batch. oneDNN's batched kernels (`brg:…`, AVX-512 CPUs) need each operand
/// dense in memory — its axes any permutation of a packed array, no gaps; for other strides it
/// falls back to `gemm:jit`, one GEMM at a time.
enum DNNL {
    enum InputType: Hashable { case bf16, f32 }

    /// Where an operand's elements lie, in elements: element (batch index b…, row i, column j) at
    /// `Σ b·batchStrides + i·row + j·column`. A row-major matrix with leading dimension ld is
    /// (row: ld, column: 1), its transpose (row: 1, column: ld).
    struct Layout: Hashable {
        var batchStrides: [Int] = []
        var row: Int, column: Int

        /// op(X) of a row-major X with leading dimension `ld`.
        static func matrix(ld: Int, transposed: Bool) -> Layout {
            transposed ? Layout(row: 1, column: ld) : Layout(row: ld, column: 1)
        }
    }

    /// One (batched) GEMM: for every batch index, `C [m, n] = alpha · A [m, k] · B [k, n] + beta · C`.
    struct Problem: Hashable {
        var type: InputType
        /// Leading batch axes shared by A, B and C; empty for one GEMM.
        var batch: [Int] = []
        var m: Int, n: Int, k: Int
        var a: Layout, b: Layout, c: Layout
        var alpha: Float, beta: Float
        /// OpenMP threads the primitive runs on (part of the key: a primitive is planned for them).
        var threads: Int

        init(type: InputType, batch: [Int], m: Int, n: Int, k: Int, a: Layout, b: Layout, c: Layout,
             alpha: Float, beta: Float, threads: Int) {
            ensure(a.batchStrides.count == batch.count && b.batchStrides.count == batch.count
                   && c.batchStrides.count == batch.count, "batched matmul: one stride per batch axis \(batch) for each operand")
            (self.type, self.batch, self.m, self.n, self.k) = (type, batch, m, n, k)
            (self.a, self.b, self.c, self.alpha, self.beta, self.threads) = (a, b, c, alpha, beta, threads)
        }

        /// One row-major GEMM: `C [m, n] (ldc) = alpha · op(A) [m, k] · op(B) [k, n] + beta · C`.
        init(type: InputType, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, lda: Int, ldb: Int, ldc: Int,
             alpha: Float, beta: Float, threads: Int) {
            self.init(type: type, batch: [], m: m, n: n, k: k, a: .matrix(ld: lda, transposed: transA),
                      b: .matrix(ld: ldb, transposed: transB), c: .matrix(ld: ldc, transposed: false),
                      alpha: alpha, beta: beta, threads: threads)
        }

        /// e.g. `4×2 × 65×64×65 Aᵀ ldc=256` (batch, m×n×k, transposes, C's row stride), for messages.
        var description: String {
            let batchText = batch.isEmpty ? "" : batch.map(String.init).joined(separator: "×") + " × "
            let transA = a.row == 1 && a.column != 1 ? " Aᵀ" : "", transB = b.row == 1 && b.column != 1 ? " Bᵀ" : ""
            return "\(batchText)\(m)×\(n)×\(k)\(transA)\(transB) ldc=\(c.row)"
        }
    }

    /// Runs `problem` on `a`, `b` (elements of `problem.type`) into `c`. Returns false, doing
    /// nothing, when oneDNN has no implementation for it on this CPU other than its slow reference one.
    static func matmul(_ problem: Problem, a: UnsafeRawPointer, b: UnsafeRawPointer, c: UnsafeMutablePointer<Float>) -> Bool {
        guard let state = ThreadState.current, let primitive = state.primitive(for: problem) else { return false }
        primitive.run(a: a, b: b, c: c, threads: problem.threads, stream: state.stream)
        return true
    }

    /// The name of the kernel oneDNN runs `problem` with on this CPU (e.g. `brg:avx512_core`,
    /// `gemm:jit`), creating and caching its primitive on this thread; nil when it has none but its
    /// slow reference one.
    static func implementation(of problem: Problem) -> String? {
        ThreadState.current?.primitive(for: problem)?.implementation
    }

    /// bf16 problems oneDNN had no native kernel for (they ran on the portable path), e.g.
    /// `m×n×k Aᵀ ldc=…`, for `bench` to report.
    static var unsupportedBF16Shapes: [String] { Unsupported.shared.list }

    /// oneDNN's bf16 matmul implementation name when this CPU computes bf16 natively (AVX512-BF16
    /// or AMX), else nil (oneDNN would emulate bf16, slower than fp32, or has no kernel at all).
    static func nativeBF16Implementation() -> String? {
        let bf16 = dnnl_cpu_isa_avx512_core_bf16.rawValue
        guard dnnl_get_effective_cpu_isa().rawValue & bf16 == bf16, let engine = Engine.shared else { return nil }
        let probe = Problem(type: .bf16, transA: false, transB: false, m: 64, n: 64, k: 64, lda: 64, ldb: 64, ldc: 64,
                            alpha: 1, beta: 0, threads: 1)
        return Matmul(probe, engine: engine.handle)?.implementation
    }

    /// The instruction set oneDNN dispatches to on this CPU (e.g. `avx2`, `avx512_core_bf16`).
    static var cpuISA: String {
        switch dnnl_get_effective_cpu_isa() {
        case dnnl_cpu_isa_avx512_core_amx: "avx512_core_amx"
        case dnnl_cpu_isa_avx512_core_bf16: "avx512_core_bf16"
        case dnnl_cpu_isa_avx512_core_vnni: "avx512_core_vnni"
        case dnnl_cpu_isa_avx512_core: "avx512_core"
        case dnnl_cpu_isa_avx2_vnni: "avx2_vnni"
        case dnnl_cpu_isa_avx2: "avx2"
        case dnnl_cpu_isa_avx: "avx"
        case dnnl_cpu_isa_sse41: "sse41"
        default: "other"
        }
    }
}

/// The process's CPU engine.
private final class Engine: @unchecked Sendable {
    let handle: dnnl_engine_t
    static let shared: Engine? = {
        var e: dnnl_engine_t?
        guard dnnl_engine_create(&e, dnnl_cpu, 0) == dnnl_success, let e else { return nil }
        return Engine(handle: e)
    }()
    private init(handle: dnnl_engine_t) { self.handle = handle }
}

/// One matmul primitive and the memory objects its calls point at the caller's buffers.
private final class Matmul {
    let implementation: String
    private var primitive: dnnl_primitive_t?
    private var memories: [dnnl_memory_t?] = [nil, nil, nil]   // src (A), weights (B), dst (C)

    init?(_ p: DNNL.Problem, engine: dnnl_engine_t) {
        omp_set_num_threads(Int32(p.threads))
        let type = p.type == .bf16 ? dnnl_bf16 : dnnl_f32
        var descs = [dnnl_memory_desc_t](repeating: dnnl_memory_desc_t(), count: 3)
        let operands: [([Int], DNNL.Layout, dnnl_data_type_t)] = [
            ([p.m, p.k], p.a, type), ([p.k, p.n], p.b, type), ([p.m, p.n], p.c, dnnl_f32),
        ]
        for (i, (dims, layout, t)) in operands.enumerated() {
            let allDims = (p.batch + dims).map(Int64.init)
            let strides = (layout.batchStrides + [layout.row, layout.column]).map(Int64.init)
            guard dnnl_memory_desc_init_by_strides(&descs[i], Int32(allDims.count), allDims, t, strides) == dnnl_success else { return nil }
        }
        var op = dnnl_matmul_desc_t()
        guard dnnl_matmul_desc_init(&op, &descs[0], &descs[1], nil, &descs[2]) == dnnl_success else { return nil }
        var attr: dnnl_primitive_attr_t?
        guard dnnl_primitive_attr_create(&attr) == dnnl_success else { return nil }
        defer { dnnl_primitive_attr_destroy(attr) }
        if p.alpha != 1 {
            var scale = p.alpha
            guard dnnl_primitive_attr_set_output_scales(attr, 1, 0, &scale) == dnnl_success else { return nil }
        }
        if p.beta != 0 {
            var postOps: dnnl_post_ops_t?
            guard dnnl_post_ops_create(&postOps) == dnnl_success else { return nil }
            defer { dnnl_post_ops_destroy(postOps) }
            guard dnnl_post_ops_append_sum(postOps, p.beta) == dnnl_success,
                  dnnl_primitive_attr_set_post_ops(attr, postOps) == dnnl_success else { return nil }
        }
        var pd: dnnl_primitive_desc_t?
        guard dnnl_primitive_desc_create(&pd, &op, attr, engine, nil) == dnnl_success else { return nil }
        defer { dnnl_primitive_desc_destroy(pd) }
        var name: UnsafePointer<CChar>?
        guard dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) == dnnl_success, let name else { return nil }
        implementation = String(cString: name)
        guard !implementation.hasPrefix("ref"), dnnl_primitive_create(&primitive, pd) == dnnl_success else { return nil }
        for i in 0..<3 {
            guard dnnl_memory_create(&memories[i], &descs[i], engine, nil) == dnnl_success else { return nil }
        }
    }

    deinit {
        for m in memories where m != nil { dnnl_memory_destroy(m) }
        if primitive != nil { dnnl_primitive_destroy(primitive) }
    }

    func run(a: UnsafeRawPointer, b: UnsafeRawPointer, c: UnsafeMutablePointer<Float>, threads: Int, stream: dnnl_stream_t) {
        let handles = [UnsafeMutableRawPointer(mutating: a), UnsafeMutableRawPointer(mutating: b), UnsafeMutableRawPointer(c)]
        for i in 0..<3 { dnnl_memory_set_data_handle(memories[i], handles[i]) }
        var args = [dnnl_exec_arg_t(arg: swiftclip_dnnl_arg_src(), memory: memories[0]),
                    dnnl_exec_arg_t(arg: swiftclip_dnnl_arg_weights(), memory: memories[1]),
                    dnnl_exec_arg_t(arg: swiftclip_dnnl_arg_dst(), memory: memories[2])]
        omp_set_num_threads(Int32(threads))
        let status = dnnl_primitive_execute(primitive, stream, 3, &args)
        ensure(status == dnnl_success && dnnl_stream_wait(stream) == dnnl_success, "oneDNN matmul failed (status \(status.rawValue))")
    }
}

/// A thread's stream and primitives (oneDNN streams are not shared between threads).
private final class ThreadState {
    let stream: dnnl_stream_t
    private let engine: dnnl_engine_t
    private var cache: [DNNL.Problem: Matmul?] = [:]
    private static let key = "swiftclip.dnnl.thread-state"

    private init?() {
        var s: dnnl_stream_t?
        guard let engine = Engine.shared?.handle, dnnl_stream_create(&s, engine, dnnl_stream_default_flags.rawValue) == dnnl_success,
              let s else { return nil }
        (self.engine, stream) = (engine, s)
    }

    deinit { dnnl_stream_destroy(stream) }

    static var current: ThreadState? {
        let dictionary = Thread.current.threadDictionary
        if let state = dictionary[key] as? ThreadState { return state }
        guard let state = ThreadState() else { return nil }
        dictionary[key] = state
        return state
    }

    /// The primitive for `problem`, created on first use; nil when oneDNN has none worth using.
    func primitive(for problem: DNNL.Problem) -> Matmul? {
        if let known = cache[problem] { return known }
        if cache.count >= 512 { cache.removeAll() }   // shapes repeat every step; this only bounds odd workloads
        let made = Matmul(problem, engine: engine)
        cache[problem] = made
        if made == nil && problem.type == .bf16 { Unsupported.shared.add(problem) }
        return made
    }
}

/// The bf16 problems without a native kernel, shared by all threads.
private final class Unsupported: @unchecked Sendable {
    static let shared = Unsupported()
    private let lock = NSLock()
    private var shapes: Set<String> = []

    func add(_ p: DNNL.Problem) {
        lock.lock(); shapes.insert(p.description); lock.unlock()
    }

    var list: [String] { lock.lock(); defer { lock.unlock() }; return shapes.sorted() }
}
