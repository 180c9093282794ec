// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let yams: Target.Dependency = .product(name: "Yams", package: "Yams")
let crypto: Target.Dependency = .product(name: "Crypto", package: "swift-crypto")

let package = Package(
    name: "skiff",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "skiff", targets: ["skiff"]),
        .library(name: "SkiffNet", targets: ["SkiffNet"]),
        .library(name: "SkiffCloud", targets: ["SkiffCloud"]),
        .library(name: "SkiffLocalCloud", targets: ["SkiffLocalCloud"]),
        .library(name: "SkiffDeploy", targets: ["SkiffDeploy"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        // Libraries: all the logic.
        .target(name: "SkiffNet", swiftSettings: strict),
        .target(name: "SkiffCloud", dependencies: ["SkiffNet"], swiftSettings: strict),
        .target(name: "SkiffLocalCloud", dependencies: ["SkiffCloud", "SkiffNet", yams], swiftSettings: strict),
        .target(name: "SkiffDeploy", dependencies: ["SkiffNet", "SkiffCloud", yams, crypto], swiftSettings: strict),

        // The command-line layer and the benchmarks.
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

        // Tests.
        .testTarget(name: "SkiffNetTests", dependencies: ["SkiffNet"], swiftSettings: strict),
        .testTarget(name: "SkiffCloudTests", dependencies: ["SkiffCloud", "SkiffNet"], swiftSettings: strict),
        .testTarget(
            name: "SkiffLocalCloudTests", dependencies: ["SkiffLocalCloud", "SkiffCloud", "SkiffNet"],
            swiftSettings: strict),
        .testTarget(name: "SkiffCLITests", dependencies: ["skiff"], swiftSettings: strict),
    ]
)
