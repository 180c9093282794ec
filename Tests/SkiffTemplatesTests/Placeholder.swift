import Testing
@testable import SkiffTemplates
