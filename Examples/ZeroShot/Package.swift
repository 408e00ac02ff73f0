// swift-tools-version:6.0
// A program of your own that uses a trained SwiftCLIP model: it labels a folder of images.
import Foundation
import PackageDescription

// SwiftCLIP is the package two folders up; a path dependency's package name is its folder's name.
let swiftCLIP = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../..").standardizedFileURL.lastPathComponent

let package = Package(
    name: "ZeroShot",
    platforms: [.macOS(.v14)],
    dependencies: [.package(path: "../..")],
    targets: [
        .executableTarget(name: "ZeroShot", dependencies: [.product(name: "SwiftCLIP", package: swiftCLIP)]),
    ]
)
