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
        .library(name: "SkiffTemplates", targets: ["SkiffTemplates"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .target(name: "SkiffNet", swiftSettings: strict),
        .executableTarget(
            name: "skiff",
            dependencies: [
                "SkiffNet",
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
        .target(
            name: "SkiffTemplates",
            dependencies: ["SkiffNet", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SkiffTemplatesTests",
            dependencies: ["SkiffTemplates", "SkiffNet"],
            resources: [.copy("Corpus"), .copy("Snippets")],
            swiftSettings: strict
        ),
    ]
)
