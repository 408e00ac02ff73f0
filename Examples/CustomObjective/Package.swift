// swift-tools-version:6.0
// A package of your own that extends SwiftCLIP without editing it: it defines an objective
// SwiftCLIP does not have (DCL), registers it, trains with it from a config and evaluates.
import Foundation
import PackageDescription

// SwiftCLIP is the package two folders up; a path dependency's package name is its folder's name.
let swiftCLIP = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../..").standardizedFileURL.lastPathComponent

let package = Package(
    name: "CustomObjective",
    platforms: [.macOS(.v14)],
    dependencies: [.package(path: "../..")],
    targets: [
        .target(name: "DCL", dependencies: [.product(name: "SwiftCLIP", package: swiftCLIP)]),
        .executableTarget(name: "CustomObjective", dependencies: ["DCL", .product(name: "SwiftCLIP", package: swiftCLIP)]),
        .testTarget(name: "DCLTests", dependencies: ["DCL", .product(name: "SwiftCLIP", package: swiftCLIP)]),
    ]
)
