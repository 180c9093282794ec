/// A node of a parsed template: Ruby expressions plus ERB text and output statements.
struct SyntaxNode: Sendable {
    var kind: NodeKind
    var line: Int
}

/// A part of an interpolated string.
enum InterpolationPart: Sendable {
    case literal(String)
    case node(SyntaxNode)
}

/// A `key => value` or `key: value` entry of a hash literal.
struct HashEntry: Sendable {
    var key: SyntaxNode
    var value: SyntaxNode
}

/// A block parameter: a name, or a parenthesised destructuring list.
indirect enum BlockParameter: Sendable {
    case name(String)
    case destructure([BlockParameter])
}

/// A `{ |params| body }` or `do |params| body end` block.
struct Block: Sendable {
    var parameters: [BlockParameter]
    var body: SyntaxNode
}

/// A `when` branch of a `case` expression.
struct WhenClause: Sendable {
    var values: [SyntaxNode]
    var body: SyntaxNode
}

/// A parameter of a `def` method.
struct MethodParameter: Sendable {
    enum Kind: Sendable {
        case required, optional, splat, keyword, keywordSplat, block
    }
    var name: String
    var kind: Kind
    /// The default value (optional and keyword parameters).
    var defaultValue: SyntaxNode?
}

/// A `rescue` clause of `begin` or `def`: the classes it catches (StandardError when empty) and the variable.
struct RescueClause: Sendable {
    var classes: [SyntaxNode]
    var variable: String?
    var body: SyntaxNode
}

/// A method defined by `def` in a template.
final class MethodDefinition: Sendable {
    let name: String
    let parameters: [MethodParameter]
    let body: SyntaxNode

    init(name: String, parameters: [MethodParameter], body: SyntaxNode) {
        self.name = name
        self.parameters = parameters
        self.body = body
    }
}

/// The kinds of node.
indirect enum NodeKind: Sendable {
    case text(String)
    case output(SyntaxNode)
    case sequence([SyntaxNode])
    case nilLiteral
    case boolean(Bool)
    case integer(Int)
    case float(Double)
    case string([InterpolationPart])
    case symbol(String)
    case array([SyntaxNode])
    case hash([HashEntry])
    case localVariable(String)
    case assign(String, SyntaxNode)
    /// `target op= value` where target is a local variable or an index expression; op is `+`, `||`, `&&`, ...
    case operatorAssign(target: SyntaxNode, op: String, value: SyntaxNode)
    case indexAssign(receiver: SyntaxNode, index: [SyntaxNode], value: SyntaxNode)
    case call(receiver: SyntaxNode?, name: String, arguments: [SyntaxNode], block: Block?)
    case index(SyntaxNode, [SyntaxNode])
    case not(SyntaxNode)
    case and(SyntaxNode, SyntaxNode)
    case or(SyntaxNode, SyntaxNode)
    case binary(String, SyntaxNode, SyntaxNode)
    case negate(SyntaxNode)
    case conditional(condition: SyntaxNode, then: SyntaxNode, otherwise: SyntaxNode?)
    case caseWhen(subject: SyntaxNode?, clauses: [WhenClause], otherwise: SyntaxNode?)
    case range(SyntaxNode, SyntaxNode, exclusive: Bool)
    case constant(String)
    case next(SyntaxNode?)
    case breakLoop(SyntaxNode?)
    /// `for a, b in iterable ... end`: like `each`, but the loop variables live in the enclosing scope.
    case forLoop(parameters: [BlockParameter], iterable: SyntaxNode, body: SyntaxNode)
    /// `value rescue fallback`: the fallback when value fails at run time (not for unsupported syntax/methods).
    case rescueModifier(SyntaxNode, SyntaxNode)
    /// `&:name` passed as the last argument.
    case blockPass(String)
    /// A regular expression literal (`/.../imx`, `%r{...}`), possibly interpolated.
    case regexp([InterpolationPart], options: String)
    /// `$1`, `$~`, `$!`, ...
    case globalVariable(String)
    /// `def name(params) ... end`.
    case defineMethod(MethodDefinition)
    /// `return value`.
    case returnValue(SyntaxNode?)
    /// `begin ... rescue ... else ... ensure ... end` (also the body of a `def` with rescue clauses).
    case beginRescue(body: SyntaxNode, rescues: [RescueClause], otherwise: SyntaxNode?, ensure: SyntaxNode?)
    /// `NAME = value`.
    case assignConstant(String, SyntaxNode)
    /// `self`.
    case selfReference
    /// `yield args`.
    case yieldCall([SyntaxNode])
    /// `while cond ... end` (`until` when `negated`).
    case whileLoop(condition: SyntaxNode, body: SyntaxNode, negated: Bool)
    /// Syntax Ruby accepts that the renderer does not support: fails with `message` when evaluated.
    case unsupported(String)
}
