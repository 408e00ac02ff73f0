import Foundation
import Evaluation

/// What `report.html` tells about a run: its state, the curves, the evaluations (zero-shot and retrieval), the final
/// zero-shot per-class results, what was skipped, the machine and the config (`html()`).
public struct TrainingReport {
    /// The last zero-shot evaluation with its per-class results, and the step it ran at.
    public struct ZeroShotSnapshot: Equatable, Sendable {
        public var step: Int
        public var dataset: String
        public var result: ZeroShotResult
        public init(step: Int, dataset: String, result: ZeroShotResult) { (self.step, self.dataset, self.result) = (step, dataset, result) }
    }

    public var runName: String
    public var configYAML: String
    public var machine: MachineSummary
    public var totalSteps: Int
    public var steps: [StepRecord]
    public var evals: [EvalRecord]
    public var retrievals: [RetrievalRecord]
    public var events: [EventRecord]
    public var zeroShot: ZeroShotSnapshot?
    /// Optimizer steps skipped as non-finite over the whole run (resumes included).
    public var skippedSteps: Int
    /// Items the data loader skipped (unreadable or invalid) in this session, with the first few named.
    public var skippedItems: [String]
    /// When the report was written.
    public var written = Date()

    public init(runName: String, configYAML: String, machine: MachineSummary, totalSteps: Int, steps: [StepRecord],
                evals: [EvalRecord], retrievals: [RetrievalRecord] = [], events: [EventRecord], zeroShot: ZeroShotSnapshot?,
                skippedSteps: Int, skippedItems: [String]) {
        (self.runName, self.configYAML, self.machine, self.totalSteps) = (runName, configYAML, machine, totalSteps)
        (self.steps, self.evals, self.retrievals, self.events, self.zeroShot) = (steps, evals, retrievals, events, zeroShot)
        (self.skippedSteps, self.skippedItems) = (skippedSteps, skippedItems)
    }

    /// The self-contained page: inline SVG and CSS, no scripts, no network.
    public func html() -> String {
        let sections = [summary(), charts(), evaluations(), ReportTables.zeroShot(zeroShot), skipped(), machineTable(), config()]
        return """
        <!doctype html><html lang="en"><head><meta charset="utf-8"><title>SwiftCLIP run \(HTML.escape(runName))</title>
        <style>\(Self.css)</style></head><body>
        <h1>SwiftCLIP run <code>\(HTML.escape(runName))</code></h1>
        \(sections.joined(separator: "\n"))
        <footer>Written \(HTML.escape(ISO8601DateFormatter().string(from: written))) by SwiftCLIP. Curves: metrics.jsonl of this run folder.</footer>
        </body></html>
        """
    }

    static let css = """
    body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:24px auto;padding:0 24px;max-width:1500px;color:#222;font-size:14px}
    h1{font-size:22px;margin:0 0 12px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
    .cards{display:flex;flex-wrap:wrap;gap:12px} .card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:140px}
    .card .v{font-size:20px;font-weight:bold} .card .k{color:#666;font-size:12px}
    .bad{color:#b00020} .ok{color:#1b7f3b}
    .grid{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start} figure{margin:0} figcaption{font-weight:bold;margin-bottom:4px}
    table{border-collapse:collapse;font-size:13px} td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
    th{background:#f4f4f4} td.l,th.l{text-align:left} .note{color:#666;font-size:12px;max-width:900px}
    table.cm td{min-width:34px;text-align:center} table.cm th.rot{writing-mode:vertical-rl;transform:rotate(180deg);text-align:left}
    pre{background:#f7f7f7;border:1px solid #ddd;padding:10px;font-size:12px;overflow:auto;max-height:480px}
    footer{margin-top:28px;color:#888;font-size:12px}
    """

    func card(_ key: String, _ value: String, _ cls: String = "") -> String {
        "<div class=\"card\"><div class=\"v \(cls)\">\(HTML.escape(value))</div><div class=\"k\">\(HTML.escape(key))</div></div>"
    }

    /// Status, progress, last loss, wall time, the final zero-shot figure and the skip counts at a glance.
    func summary() -> String {
        let lastStep = max(steps.last?.step ?? 0, events.map(\.step).max() ?? 0)
        let stop = events.last { $0.kind == "stop" }
        let status: (String, String) = switch stop?.reason {
        case "completed"?: ("completed", "ok")
        case nil: ("in progress", "")
        case let r?: ("stopped (\(r))", r == "signal" || r == "cancelled" ? "" : "bad")
        }
        var cards = [card("status", status.0, status.1), card("optimizer steps", "\(lastStep) / \(totalSteps)")]
        if let loss = steps.last(where: { $0.loss != nil })?.loss { cards.append(card("last logged loss", String(format: "%.4f", loss))) }
        if let s = steps.last?.elapsedSeconds { cards.append(card("wall time (this session)", Self.duration(s))) }
        if let e = evals.last { cards.append(card("zero-shot top-1 (\(e.images) images, step \(e.step))", String(format: "%.2f %%", 100 * e.zeroshotTop1))) }
        if let r = retrievals.last {
            cards.append(card("R@1 image→text / text→image (\(r.images) images, step \(r.step))",
                              String(format: "%.2f / %.2f %%", 100 * r.imageToText.recallAt1, 100 * r.textToImage.recallAt1)))
        }
        cards.append(card("skipped steps (non-finite)", "\(skippedSteps)", skippedSteps > 0 ? "bad" : ""))
        cards.append(card("skipped items (data)", "\(skippedItems.count)", skippedItems.isEmpty ? "" : "bad"))
        cards.append(card("machine", "\(machine.ranks) rank\(machine.ranks == 1 ? "" : "s") × \(machine.workers) worker\(machine.workers == 1 ? "" : "s"), \(machine.precision)"))
        var html = "<div class=\"cards\">\(cards.joined())</div>"
        if let stop, stop.reason != "completed" { html += "<p class=\"note\">Stop: \(HTML.escape(stop.message))</p>" }
        return html
    }

    static func duration(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%dh %02dm", t / 3600, t % 3600 / 60) : t >= 60 ? String(format: "%dm %02ds", t / 60, t % 60) : String(format: "%.1f s", s)
    }

    /// Loss, learning rate, logit multiplier, throughput and step time against optimizer steps.
    func charts() -> String {
        let skippedAt = steps.filter { $0.nonfinite != nil }.map { Double($0.step) }
        let marker = skippedAt.isEmpty ? nil : (name: "skipped step", xs: skippedAt)
        func points(_ value: (StepRecord) -> Double?) -> [(x: Double, y: Double)] { steps.compactMap { r in value(r).map { (Double(r.step), $0) } } }
        var charts = [
            LineChart(title: "Training loss", yTitle: "loss (nats, per batch)", series: [.init(name: "loss", points: points(\.loss))], markers: marker),
            LineChart(title: "Learning rate", yTitle: "learning rate", series: [.init(name: "lr", points: points { $0.lr })], yFromZero: true),
            LineChart(title: "Logit multiplier", yTitle: "logit multiplier (×)", series: [.init(name: "scale", points: points { $0.logitMultiplier })]),
            LineChart(title: "Throughput", yTitle: "images / second", series: [
                .init(name: "window since last log", points: points { $0.imagesPerSecond }),
                .init(name: "logged step", points: points(\.samplesPerSecond), dashed: true)], yFromZero: true),
        ]
        if steps.contains(where: { $0.batchTime != nil }) {
            charts.append(LineChart(title: "Time per step", yTitle: "seconds", series: [
                .init(name: "step (batch_time)", points: points(\.batchTime)),
                .init(name: "waiting for data (data_time)", points: points(\.dataTime), dashed: true)], yFromZero: true))
        }
        charts.append(LineChart(title: "Data wait share", yTitle: "share of training time (%)",
                                series: [.init(name: "data wait", points: points { 100 * $0.dataWaitShare })], yFromZero: true))
        let note = "Every \(steps.count > 1 ? "logged " : "")step of metrics.jsonl (run.log_every). Loss: the objective's mean over the global batch, in nats. "
            + "Throughput: images (all ranks) per second of training, checkpoints and evaluations excluded."
        return "<h2>Training curves</h2><p class=\"note\">\(HTML.escape(note))</p><div class=\"grid\">\(charts.map { $0.svg() }.joined())</div>"
    }

    /// The zero-shot and retrieval evaluations (`ReportEvaluations`) and the failed ones.
    func evaluations() -> String {
        var html = "<h2>Evaluations</h2>"
        let failed = events.filter { $0.kind == "eval_failed" }
        guard !evals.isEmpty || !retrievals.isEmpty || !failed.isEmpty else {
            return html + "<p class=\"note\">No evaluation configured or run yet (eval.zeroshot, eval.retrieval).</p>"
        }
        html += ReportEvaluations.zeroShot(evals) + ReportEvaluations.retrieval(retrievals)
        for f in failed { html += "<p class=\"bad\">Step \(f.step): evaluation failed: \(HTML.escape(f.message))</p>" }
        return html
    }

    /// Non-finite steps (by step and cause) and the data loader's skipped items.
    func skipped() -> String {
        var html = "<h2>Skipped</h2><p>\(skippedSteps) optimizer step\(skippedSteps == 1 ? "" : "s") skipped as non-finite (train.max_nonfinite_steps); "
            + "\(skippedItems.count) data item\(skippedItems.count == 1 ? "" : "s") skipped by the loader in this session"
            + (machine.ranks > 1 ? " (rank 0's share of the data; other ranks log their own).</p>" : ".</p>")
        let bad = steps.filter { $0.nonfinite != nil }
        if !bad.isEmpty {
            html += "<table><tr><th>step</th><th class=\"l\">non-finite</th></tr>" + bad.map { "<tr><td>\($0.step)</td><td class=\"l\">\(HTML.escape($0.nonfinite!))</td></tr>" }.joined() + "</table>"
        }
        if !skippedItems.isEmpty {
            html += "<ul>" + skippedItems.prefix(20).map { "<li>\(HTML.escape($0))</li>" }.joined() + "</ul>"
            if skippedItems.count > 20 { html += "<p class=\"note\">… and \(skippedItems.count - 20) more (see the training log).</p>" }
        }
        return html
    }

    func machineTable() -> String {
        let rows: [(String, String)] = [
            ("CPU", "\(machine.cpuModel), \(machine.logicalCores) logical cores"), ("host", machine.host), ("system", machine.operatingSystem),
            ("fp32 GEMM kernels", "OpenBLAS \(machine.openBLASCore); oneDNN ISA \(machine.cpuISA)"), ("bf16", machine.bf16),
            ("precision", machine.precision), ("parallelism", "\(machine.ranks) rank\(machine.ranks == 1 ? "" : "s") × \(machine.workers) worker\(machine.workers == 1 ? "" : "s") per rank"),
        ]
        return "<h2>Machine</h2><table>" + rows.map { "<tr><th class=\"l\">\(HTML.escape($0.0))</th><td class=\"l\">\(HTML.escape($0.1))</td></tr>" }.joined() + "</table>"
    }

    func config() -> String { "<h2>Config</h2><pre class=\"config\">\(HTML.escape(configYAML))</pre>" }
}
