// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "skiff",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "skiff", targets: ["skiff"]),
        .library(name: "SkiffNet", targets: ["SkiffNet"]),
        .library(name: "SkiffCloud", targets: ["SkiffCloud"]),
        .library(name: "SkiffLocalCloud", targets: ["SkiffLocalCloud"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .target(name: "SkiffNet", swiftSettings: strict),
        .target(name: "SkiffCloud", dependencies: ["SkiffNet"], swiftSettings: strict),
        .target(
            name: "SkiffLocalCloud",
            dependencies: ["SkiffCloud", "SkiffNet", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "skiff",
            dependencies: [
                "SkiffNet",
                "SkiffCloud",
                "SkiffLocalCloud",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "skiff-bench",
            dependencies: ["SkiffNet"],
            path: "Benchmarks/skiff-bench",
            swiftSettings: strict
        ),
        .testTarget(name: "SkiffNetTests", dependencies: ["SkiffNet"], swiftSettings: strict),
        .testTarget(name: "SkiffCloudTests", dependencies: ["SkiffCloud", "SkiffNet"], swiftSettings: strict),
        .testTarget(
            name: "SkiffLocalCloudTests",
            dependencies: ["SkiffLocalCloud", "SkiffCloud", "SkiffNet"],
            swiftSettings: strict
        ),
    ]
)
