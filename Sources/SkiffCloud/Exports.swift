/// Everything SkiffCore defines (JSONValue, AgentSettings, CPINetwork, CloudError, the process runner…) is
/// available to every module that imports SkiffCloud.
@_exported import SkiffCore
