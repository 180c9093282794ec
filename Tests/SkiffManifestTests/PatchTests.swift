import SkiffManifest
import Testing

@Suite("go-patch pointers")
struct PointerTests {
    @Test("tokens are parsed as go-patch does")
    func parse() throws {
        let pointer = try Pointer(parsing: "/a/0/-1/name=x/key?/k2/b=c:next/x~1y~0z~7w")
        #expect(
            pointer.tokens == [
                .key("a", optional: false), .index(0, modifiers: []), .index(-1, modifiers: []),
                .matching(key: "name", value: "x", optional: false, modifiers: []), .key("key", optional: true),
                .key("k2", optional: true), .matching(key: "b", value: "c", optional: true, modifiers: [.next]),
                .key("x/y~z:w", optional: true),
            ])
        #expect(try Pointer(parsing: "/a/-").tokens.last == .afterLast)
        #expect(try Pointer(parsing: "/-/a").tokens.first == .key("-", optional: false))
        #expect(try Pointer(parsing: "").tokens.isEmpty)
        #expect(try Pointer(parsing: "/").tokens == [.key("", optional: false)])
    }

    @Test("optional is printed once, on the first optional token")
    func printing() throws {
        #expect(try Pointer(parsing: "/key?/key2/key3").description == "/key?/key2/key3")
        #expect(try Pointer(parsing: "/a/name=x?/b").description == "/a/name=x?/b")
        #expect(try Pointer(parsing: "/a~1b/0:before").description == "/a~1b/0:before")
    }

    @Test(
        "bad pointers get go-patch's messages",
        arguments: [
            ("a", "Expected to start with '/'"),
            (
                "/a/0:bad",
                "Expected to find one of the following modifiers: 'prev', 'next', 'before', or 'after' but found 'bad'"
            ),
            ("/a/-:next", "Expected not to find any modifiers with after last index token"),
            ("/a:next", "Expected not to find any modifiers with key token"),
        ])
    func errors(text: String, message: String) {
        #expect(throws: ManifestError(.invalidFlag, message)) { try Pointer(parsing: text) }
    }
}

@Suite("go-patch operations")
struct PatchOperationTests {
    func doc(_ text: String) throws -> ManifestValue { try YAMLReader.parse(text, fileName: "t.yml") }

    @Test("replace creates intermediate maps and lists for optional keys")
    func replaceOptional() throws {
        var value = try doc("a: {}\n")
        try Patcher.replace(in: &value, path: Pointer(parsing: "/a/b?/c/d"), value: 1)
        try Patcher.replace(in: &value, path: Pointer(parsing: "/a/list?/-"), value: "x")
        try Patcher.replace(in: &value, path: Pointer(parsing: "/a/items?/name=nn/v"), value: 2)
        #expect(value == (try doc("a: {b: {c: {d: 1}}, list: [x], items: [{name: nn, v: 2}]}\n")))
    }

    @Test("index modifiers and insertion")
    func indexes() throws {
        var value = try doc("a: [1, 2, 3]\n")
        try Patcher.replace(in: &value, path: Pointer(parsing: "/a/0:before"), value: 0)
        try Patcher.replace(in: &value, path: Pointer(parsing: "/a/-1:after"), value: 4)
        try Patcher.replace(in: &value, path: Pointer(parsing: "/a/2:prev"), value: 10)
        #expect(value == (try doc("a: [0, 10, 2, 3, 4]\n")))
        #expect(throws: PatchFailure.self) {
            var empty = try doc("a: []\n")
            try Patcher.replace(in: &empty, path: Pointer(parsing: "/a/0:before"), value: 1)
        }
    }

    @Test("remove of an optional missing key is a no-op")
    func removeOptional() throws {
        var value = try doc("a: 1\n")
        try Patcher.remove(in: &value, path: Pointer(parsing: "/b?/c"))
        #expect(value == (try doc("a: 1\n")))
    }

    @Test("find gives null for an optional missing key and a synthetic map for k=v?")
    func find() throws {
        let value = try doc("a: {}\nitems: []\n")
        #expect(try Patcher.find(in: value, path: Pointer(parsing: "/a/b?")) == .null)
        #expect(try Patcher.find(in: value, path: Pointer(parsing: "/items/name=n2?")) == (try doc("name: n2\n")))
        #expect {
            try Patcher.find(in: value, path: Pointer(parsing: "/items/-"))
        } throws: { error in
            (error as? PatchFailure)?.message
                == "Expected not to find after last index token in path '/items/-' (not supported in find operations)"
        }
    }

    @Test("test absent only succeeds when exactly that path is missing")
    func testAbsent() throws {
        let value = try doc("a: {b: 1}\n")
        try Patcher.test(value, path: Pointer(parsing: "/a/c"), value: nil, absent: true)
        #expect(throws: PatchFailure.self) {
            try Patcher.test(value, path: Pointer(parsing: "/x/c"), value: nil, absent: true)
        }
    }

    @Test("ops file definitions are validated with go-patch's messages and the op's line")
    func definitions() throws {
        let ops = try doc("- type: replace\n  path: /a\n- type: test\n  path: /a\n")
        #expect(
            throws: ManifestError(.invalidOperation, "Replace operation [0]: Missing value", file: "o.yml", line: 1)
        ) {
            try PatchOperation.operations(from: ops, file: "o.yml")
        }
        let good = try PatchOperation.operations(
            from: try doc("- {type: replace, path: /a, value: 1}\n- {type: remove, path: /b?}\n"), file: "o.yml")
        #expect(good.count == 2)
        #expect(good[1].label == "operation [1] in o.yml failed")
    }

    @Test("200 ops on 1,000 instance groups stay fast (no tree copy per op)")
    func manyOpsAreFast() throws {
        var items: [ManifestValue] = []
        for index in 0..<1000 {
            items.append(
                .map(ManifestMap(["name": .string("g\(index)"), "jobs": .list([.map(ManifestMap(["name": "j"]))])])))
        }
        var value = ManifestValue.map(ManifestMap(["instance_groups": .list(items)]))
        let clock = ContinuousClock()
        let elapsed = try clock.measure {
            for index in 0..<200 {
                try Patcher.replace(
                    in: &value,
                    path: Pointer(parsing: "/instance_groups/name=g\(index)/jobs/name=j/properties?/p\(index)"),
                    value: .int(index))
            }
        }
        #expect(value["instance_groups"]?.listValue?[199]["jobs"]?.listValue?[0]["properties"]?["p199"] == .int(199))
        #expect(elapsed < .seconds(10))
    }
}
