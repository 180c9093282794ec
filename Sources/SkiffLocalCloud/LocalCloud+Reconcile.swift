import Foundation
import SkiffCloud

extension LocalCloud {
    /// Removes what an interrupted call left behind, so that no record is trusted without the thing it describes:
    /// half-imported stemcells, half-made disks, and networks no VM record names any more (a delete killed after its VM went but
    /// before its network did). Call it with the state lock held.
    func collectGarbage(tools: HostTools? = nil) async {
        for name in Files.entries(layout.stemcells) where name.hasPrefix(".importing-") {
            Files.remove(layout.stemcells + "/" + name)
        }
        for name in Files.entries(layout.disks) where name.hasPrefix(".creating-") {
            Files.remove(layout.disks + "/" + name)
        }
        guard let tools = tools ?? (try? hostTools()), let vms = try? allVMs() else { return }
        let manager = network(tools)
        for name in Files.list(layout.networks) where !vms.contains(where: { $0.network == name }) {
            if let record = try? manager.load(name) {
                await manager.remove(record)
            } else {
                Files.remove(layout.network(name))
            }
            CPILog.write("removed local network '\(name)', which no VM uses")
        }
    }
}

extension NetworkManager {
    /// The network's record reconciled with the host: a record whose bridge is gone, or whose creation never
    /// finished, is forgotten (whatever it still names is removed) so the caller creates the network anew; a
    /// network whose dnsmasq is gone gets it started again. A folder without a record is removed.
    func reconciled(_ name: String) async throws(CloudError) -> NetworkRecord? {
        guard var record = try load(name) else {
            Files.remove(layout.network(name))
            return nil
        }
        guard Host.linkExists(record.bridge), record.dnsmasqPID != nil else {
            CPILog.write("forgetting local network '\(name)': its bridge \(record.bridge) or its dnsmasq is missing")
            await remove(record)
            return nil
        }
        if let pid = record.dnsmasqPID, isOurDNSMasq(pid, record) { return record }
        CPILog.write("restarting dnsmasq of local network '\(name)'")
        record.dnsmasqPID = try await startDNSMasq(record)
        try Files.save(record, to: layout.network(name) + "/network.json")
        return record
    }
}
