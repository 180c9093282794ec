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
        .library(name: "SkiffAWS", targets: ["SkiffAWS"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
    ],
    targets: [
        .target(name: "SkiffNet", swiftSettings: strict),
        .target(
            name: "SkiffAWS",
            dependencies: [
                "SkiffNet",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "skiff",
            dependencies: [
                "SkiffNet",
                "SkiffAWS",
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
        .testTarget(
            name: "SkiffAWSTests",
            dependencies: [
                "SkiffAWS", "SkiffNet",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            exclude: ["Support/ec2_proxy.py", "Support/botocore_ref.py"],
            swiftSettings: strict
        ),
    ]
)
