import SkiffCloud
import SkiffLocalCloud
import Testing

@Suite("Local cloud config")
struct LocalCloudConfigTests {
    @Test("state_dir is read, unknown keys are ignored, the default applies")
    func stateDirectory() throws {
        #expect(try LocalCloudConfig(yaml: "state_dir: /tmp/x\nother: 1\n", file: "c.yml").stateDirectory == "/tmp/x")
        #expect(try LocalCloudConfig(yaml: "other: 1\n", file: "c.yml").stateDirectory == "/var/lib/skiff/local")
        #expect(throws: CloudError.self) { try LocalCloudConfig(yaml: "- a\n", file: "c.yml") }
    }
}
