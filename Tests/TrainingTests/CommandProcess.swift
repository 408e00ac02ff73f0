import Foundation
import XCTest

/// A process for one of the package's executables (built by `swift build`, next to the test bundle),
/// with empty standard input; skips the test when the executable is missing.
func commandProcess(_ name: String, _ arguments: [String]) throws -> Process {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    if dir.lastPathComponent == "MacOS" { dir = dir.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }
    let url = dir.appendingPathComponent(name)
    guard FileManager.default.isExecutableFile(atPath: url.path) else { throw XCTSkip("no \(name) executable at \(url.path) (run swift build first)") }
    let process = Process()
    process.executableURL = url
    process.arguments = arguments
    process.standardInput = FileHandle.nullDevice
    return process
}

/// Runs one of the package's executables and returns its exit status, standard output and standard error.
func runCommand(_ name: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = try commandProcess(name, arguments)
    let (out, err) = (Pipe(), Pipe())
    (process.standardOutput, process.standardError) = (out, err)
    try process.run()
    let errorData = err.fileHandleForReading.readDataToEndOfFile()
    let outputData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outputData, as: UTF8.self), String(decoding: errorData, as: UTF8.self))
}

/// Runs a built executable as `runCommand` does, with standard output and standard error into one pipe:
/// the text in the order a terminal (or `2>&1`) shows it.
func runCommandMerged(_ name: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = try commandProcess(name, arguments)
    let pipe = Pipe()
    (process.standardOutput, process.standardError) = (pipe, pipe)
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
