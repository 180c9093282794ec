// swift-tools-version: 6.1
import PackageDescription

// Warnings are errors in every target of ours (unsafe flags are allowed in a root package; dependencies keep theirs).
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .unsafeFlags(["-warnings-as-errors"]),
]

let yams: Target.Dependency = .product(name: "Yams", package: "Yams")
let crypto: Target.Dependency = .product(name: "Crypto", package: "swift-crypto")
let cryptoExtras: Target.Dependency = .product(name: "_CryptoExtras", package: "swift-crypto")
let x509: Target.Dependency = .product(name: "X509", package: "swift-certificates")
let asn1: Target.Dependency = .product(name: "SwiftASN1", package: "swift-asn1")
let nio: [Target.Dependency] = [
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOPosix", package: "swift-nio"),
    .product(name: "NIOHTTP1", package: "swift-nio"),
    .product(name: "NIOTLS", package: "swift-nio"),
    .product(name: "NIOSSL", package: "swift-nio-ssl"),
]
let httpClient: Target.Dependency = .product(name: "AsyncHTTPClient", package: "async-http-client")

let package = Package(
    name: "skiff",
    // Linux only: the local cloud needs network namespaces, runc and dnsmasq; no Apple platform is claimed.
    products: [
        .executable(name: "skiff", targets: ["skiff"]),
        .library(name: "SkiffNet", targets: ["SkiffNet"]),
        .library(name: "SkiffCore", targets: ["SkiffCore"]),
        .library(name: "SkiffManifest", targets: ["SkiffManifest"]),
        .library(name: "SkiffTemplates", targets: ["SkiffTemplates"]),
        .library(name: "SkiffCloud", targets: ["SkiffCloud"]),
        .library(name: "SkiffLocalCloud", targets: ["SkiffLocalCloud"]),
        .library(name: "SkiffAgentClient", targets: ["SkiffAgentClient"]),
        .library(name: "SkiffAgent", targets: ["SkiffAgent"]),
        .library(name: "SkiffDeploy", targets: ["SkiffDeploy"]),
        .library(name: "SkiffAWS", targets: ["SkiffAWS"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        // Libraries: all the logic.
        .target(name: "SkiffNet", swiftSettings: strict),
        // What several modules share: JSON values, agent settings, the mbus URL, files, processes, locations; under
        // its process runner, a C shim (posix_spawn with closefrom and default signals, pidfd_open), warnings errors.
        .target(name: "CSkiffCore", cSettings: [.unsafeFlags(["-Wall", "-Wextra", "-Werror"])]),
        .target(name: "SkiffCore", dependencies: ["SkiffNet", "CSkiffCore"], swiftSettings: strict),
        .target(
            name: "SkiffManifest", dependencies: ["SkiffNet", "SkiffCore", yams, crypto, cryptoExtras, x509, asn1],
            swiftSettings: strict),
        .target(name: "SkiffTemplates", dependencies: ["SkiffNet", "SkiffCore", yams, crypto], swiftSettings: strict),
        .target(name: "SkiffCloud", dependencies: ["SkiffCore", "SkiffNet", yams], swiftSettings: strict),
        .target(
            name: "SkiffAWS",
            dependencies: [
                "SkiffNet", "SkiffCore", "SkiffCloud", crypto, httpClient, yams,
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict),
        .target(
            name: "SkiffLocalCloud", dependencies: ["SkiffCore", "SkiffCloud", "SkiffNet", yams, crypto],
            swiftSettings: strict),
        .target(
            name: "SkiffAgentClient", dependencies: ["SkiffNet", "SkiffCore", crypto, httpClient] + nio,
            swiftSettings: strict),
        .target(
            name: "SkiffAgent", dependencies: ["SkiffNet", "SkiffCore", crypto, x509, asn1] + nio,
            swiftSettings: strict),
        .target(
            name: "SkiffDeploy",
            dependencies: [
                "SkiffNet", "SkiffCore", "SkiffManifest", "SkiffTemplates", "SkiffCloud", "SkiffLocalCloud", "SkiffAWS",
                "SkiffAgentClient", yams, crypto, httpClient, .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict),

        // The command-line layer and the benchmarks.
        .executableTarget(
            name: "skiff",
            dependencies: [
                "SkiffNet",
                "SkiffCore",
                "SkiffManifest",
                "SkiffTemplates",
                "SkiffCloud",
                "SkiffLocalCloud",
                "SkiffAgentClient",
                "SkiffAgent",
                "SkiffDeploy",
                "SkiffAWS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "skiff-bench",
            dependencies: ["SkiffNet", "SkiffManifest"],
            path: "Benchmarks/skiff-bench",
            swiftSettings: strict
        ),

        // Tests, and what several test targets share.
        .target(
            name: "SkiffTestSupport",
            dependencies: ["SkiffCore", "SkiffNet", "SkiffDeploy", "SkiffCloud", "SkiffAgentClient", "SkiffAgent"],
            path: "Tests/SkiffTestSupport", swiftSettings: strict),
        .testTarget(name: "SkiffNetTests", dependencies: ["SkiffNet"], swiftSettings: strict),
        .testTarget(
            name: "SkiffCoreTests",
            dependencies: ["SkiffCore", "SkiffNet", "SkiffCloud", "SkiffLocalCloud", "SkiffAWS", "SkiffTestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "SkiffManifestTests", dependencies: ["SkiffManifest", "SkiffNet", crypto, cryptoExtras, x509, asn1],
            resources: [.copy("Fixtures")], swiftSettings: strict),
        .testTarget(
            name: "SkiffTemplatesTests", dependencies: ["SkiffTemplates", "SkiffNet"],
            resources: [.copy("Corpus"), .copy("Snippets")],
            swiftSettings: strict),
        .testTarget(
            name: "SkiffCloudTests", dependencies: ["SkiffCloud", "SkiffCore", "SkiffNet"], swiftSettings: strict),
        .testTarget(
            name: "SkiffLocalCloudTests", dependencies: ["SkiffLocalCloud", "SkiffCloud", "SkiffNet"],
            swiftSettings: strict),
        .testTarget(
            name: "SkiffAWSTests",
            dependencies: [
                "SkiffAWS", "SkiffCloud", "SkiffCore", "SkiffNet", "skiff", httpClient,
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            exclude: ["Support/ec2_proxy.py", "Support/botocore_ref.py", "Support/fake_imds.py"],
            swiftSettings: strict),
        .testTarget(
            name: "SkiffAgentTests",
            dependencies: ["SkiffAgent", "SkiffAgentClient", "SkiffCore", "SkiffNet", "skiff", "SkiffTestSupport"]
                + nio,
            swiftSettings: strict),
        .testTarget(
            name: "SkiffDeployTests",
            dependencies: [
                "SkiffDeploy", "SkiffManifest", "SkiffCloud", "SkiffCore", "SkiffLocalCloud", "SkiffNet",
                "SkiffAgentClient", "SkiffTestSupport", crypto,
            ],
            swiftSettings: strict),
        .testTarget(
            name: "SkiffEndToEndTests", dependencies: ["skiff", "SkiffTestSupport", "SkiffLocalCloud"],
            exclude: ["Fixtures"],
            swiftSettings: strict),
        .testTarget(
            name: "SkiffCLITests", dependencies: ["skiff", "SkiffTestSupport", "SkiffCore", "SkiffDeploy"],
            swiftSettings: strict),
    ]
)
