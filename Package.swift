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
        .library(name: "SkiffAgent", targets: ["SkiffAgent"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        .target(name: "SkiffNet", swiftSettings: strict),
        .target(
            name: "SkiffAgent",
            dependencies: [
                "SkiffNet",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "skiff",
            dependencies: [
                "SkiffNet",
                "SkiffAgent",
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
        .testTarget(name: "SkiffAgentTests", dependencies: ["SkiffAgent", "SkiffNet"], swiftSettings: strict),
    ]
)
