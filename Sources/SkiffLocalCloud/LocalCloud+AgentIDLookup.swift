import SkiffCloud

extension LocalCloud: AgentIDLookup {
    /// The local VM whose record names `agentID`.
    public func findVM(agentID: String) async throws -> String? {
        try allVMs().first { $0.agentID == agentID }?.cid
    }
}
