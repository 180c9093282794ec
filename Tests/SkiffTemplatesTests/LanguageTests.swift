import Testing

@testable import SkiffTemplates

/// Properties most language tests render against (already resolved, nested).
let sampleProperties: TemplateValue = [
    "name": "web",
    "port": 8080,
    "ratio": 0.5,
    "enabled": true,
    "disabled": false,
    "empty": "",
    "nothing": nil,
    "hosts": ["a.example", "b.example", "c.example"],
    "ports": [80, 443],
    "tags": ["env": "prod", "team": "core"],
    "nginx": ["workers": 4, "listen": ["[::]:80", "0.0.0.0:8080"], "ssl": ["enabled": false]],
    "users": [["name": "alice", "admin": true], ["name": "bob", "admin": false]],
]

let sampleSpec: TemplateValue = [
    "index": 0,
    "id": "0f5c2f5e-7c4e-4f0e-9b8e-3b1d0b2a1c11",
    "az": "z1",
    "bootstrap": true,
    "job": ["name": "nginx"],
    "name": "web",
    "deployment": "nginx-ipv6",
    "address": "fd00:5:6::4",
    "networks": [
        "private": [
            "ip": "10.0.0.4", "netmask": "255.255.255.0", "gateway": "10.0.0.1", "default": ["dns", "gateway"],
        ],
        "ipv6": ["ip": "fd00:5:6::4", "netmask": "ffff:ffff:ffff:ffff::", "gateway": "fd00:5:6::1"],
    ],
]

func render(_ source: String, properties: TemplateValue = sampleProperties, spec: TemplateValue = sampleSpec)
    throws(TemplateError) -> String
{
    try ERBTemplate(source: source, file: "templates/test.erb")
        .render(properties: properties, spec: spec, jobName: "nginx", index: 0)
}

func renderError(_ source: String, properties: TemplateValue = sampleProperties) -> TemplateError? {
    do {
        _ = try render(source, properties: properties)
        return nil
    } catch {
        return error
    }
}

struct ERBTests {
    @Test(arguments: [
        ("plain text\n", "plain text\n"),
        ("a<%= 1 %>b", "a1b"),
        ("<% x = 2 %>[<%= x %>]", "[2]"),
        ("a<%# a comment %>b", "ab"),
        ("<%% literal %>", "<% literal %>"),
        ("<%= '%%>' %>", "%>"),
        ("line1\n<% if true -%>\nyes\n<% end -%>\nline2\n", "line1\nyes\nline2\n"),
        ("line1\n<% if true %>\nyes\n<% end %>\nline2\n", "line1\n\nyes\n\nline2\n"),
        ("  <%- if true -%>\n  kept\n  <%- end -%>\n", "  kept\n"),
        ("x <%- if true -%>y<% end %>", "x y"),
        ("<%= nil %>|<%= true %>|<%= [1, 'a'] %>", "|true|[1, \"a\"]"),
        ("<%= 1.5 %> <%= 2.0 %> <%= 1e20 %> <%= 0.00001 %>", "1.5 2.0 1.0e+20 1.0e-05"),
        ("<%# multi\nline\ncomment -%>\nafter", "after"),
        ("a\r\n<% x = 1 -%>\r\nb", "a\r\nb"),
    ])
    func scanning(source: String, expected: String) throws {
        #expect(try render(source) == expected)
    }

    @Test func unterminatedTagNamesLine() {
        let error = renderError("one\ntwo <%= p('x')\nthree")
        #expect(error?.code == .syntax)
        #expect(error?.location.line == 2)
        #expect(error?.description == "templates/test.erb:2: unterminated ERB tag (missing '%>')")
    }
}

struct ExpressionTests {
    @Test(arguments: [
        // literals and strings
        ("<%= 'single \\'q\\' \\n' %>", "single 'q' \\n"),
        ("<%= \"tab\\tnl\\n\" %>", "tab\tnl\n"),
        ("<%= \"port #{p('port')} and #{1 + 1}\" %>", "port 8080 and 2"),
        ("<%= \"nested #{\"inner #{p('name')}\"}\" %>", "nested inner web"),
        ("<%= \"a\" 'b' %>", "ab"),
        ("<%= %w[a b c].join('-') %>", "a-b-c"),
        ("<%= :sym %>", "sym"),
        ("<%= 0x1F %> <%= 1_000 %>", "31 1000"),
        // arithmetic
        ("<%= 1 + 2 * 3 %>", "7"),
        ("<%= (1 + 2) * 3 %>", "9"),
        ("<%= 7 / 2 %> <%= -7 / 2 %> <%= 7 % 3 %> <%= -7 % 3 %>", "3 -4 1 2"),
        ("<%= 7.0 / 2 %> <%= 2 ** 10 %>", "3.5 1024"),
        ("<%= 'ab' * 3 %>", "ababab"),
        ("<%= 'a' + 'b' %>", "ab"),
        ("<%= [1, 2] + [3] %> <%= [1, 2, 3] - [2] %>", "[1, 2, 3] [1, 3]"),
        ("<%= -p('port') %>", "-8080"),
        // comparisons and logic
        ("<%= 1 < 2 %> <%= 2 <= 2 %> <%= 3 > 4 %> <%= 'a' >= 'b' %>", "true true false false"),
        ("<%= 1 == 1.0 %> <%= 'a' != 'b' %> <%= nil == false %>", "true true false"),
        ("<%= true && 'x' %> <%= nil || 'y' %> <%= !nil %> <%= !0 %>", "x y true false"),
        ("<%= (true and false) %> <%= (false or 'z') %> <%= (not true) %>", "false z false"),
        ("<%= p('enabled') ? 'on' : 'off' %>", "on"),
        ("<%= p('disabled') ? 'on' : p('port') > 80 ? 'high' : 'low' %>", "high"),
        // variables and assignment
        ("<% a = 1; b = a + 1 %><%= a %><%= b %>", "12"),
        ("<% a = nil %><% a ||= 5 %><% a += 1 %><%= a %>", "6"),
        ("<% s = 'x' %><% s << 'y' %><% s += 'z' %><%= s %>", "xyz"),
        ("<% l = [] %><% l << 1 << 2 %><% l.push(3) %><%= l %>", "[1, 2, 3]"),
        ("<% h = {} %><% h['a'] = 1 %><% h[:b] = 2 %><%= h %>", "{\"a\"=>1, :b=>2}"),
        ("<% h = { 'x' => { 'y' => 1 } } %><% h['x']['z'] = 2 %><%= h.to_json %>", "{\"x\":{\"y\":1,\"z\":2}}"),
        // hashes and arrays
        ("<%= { 'a' => 1, b: 2, \"c\": 3 }.to_json %>", "{\"a\":1,\"b\":2,\"c\":3}"),
        ("<%= [1, [2, [3]]].flatten.inspect %>", "[1, 2, 3]"),
        ("<%= p('hosts')[0] %> <%= p('hosts')[-1] %> <%= p('hosts')[5].inspect %>", "a.example c.example nil"),
        (
            "<%= p('hosts')[0, 2].join(',') %> <%= p('hosts')[1..-1].join(',') %>",
            "a.example,b.example b.example,c.example"
        ),
        ("<%= p('tags')['env'] %> <%= p('tags')[:env].inspect %>", "prod nil"),
        ("<%= p('nginx').dig('ssl', 'enabled') %>", "false"),
        ("<%= (1..3).to_a.inspect %> <%= (1...3).map { |i| i * 2 }.inspect %>", "[1, 2, 3] [2, 4]"),
    ])
    func evaluates(source: String, expected: String) throws {
        #expect(try render(source) == expected)
    }
}

struct ControlFlowTests {
    @Test(arguments: [
        ("<% if p('port') > 1000 %>big<% elsif p('port') > 10 %>mid<% else %>small<% end %>", "big"),
        ("<% if p('disabled') %>a<% elsif p('enabled') %>b<% end %>", "b"),
        ("<% unless p('disabled') %>shown<% else %>hidden<% end %>", "shown"),
        ("<%= 'mod' if p('enabled') %>|<%= 'no' unless p('enabled') %>", "mod|"),
        ("<% if p('enabled') then %>t<% end %>", "t"),
        ("<%= if p('enabled') then 1 else 2 end %>", "1"),
        ("<% case p('name') %>\n<% when 'api' %>A<% when 'web', 'www' %>W<% else %>X<% end %>", "W"),
        ("<% case p('port') when 1..1024 then %>low<% when Integer %>int<% end %>", "int"),
        ("<% p('hosts').each do |h| %><%= h %>;<% end %>", "a.example;b.example;c.example;"),
        ("<% p('hosts').each { |h| %><%= h[0] %><% } %>", "abc"),
        (
            "<% p('hosts').each_with_index do |h, i| %><%= i %>=<%= h %> <% end %>",
            "0=a.example 1=b.example 2=c.example "
        ),
        ("<% p('tags').each do |k, v| %><%= k %>:<%= v %>,<% end %>", "env:prod,team:core,"),
        ("<% p('tags').each_pair do |k, v| %><%= k %>=<%= v %> <% end %>", "env=prod team=core "),
        ("<% p('tags').each_with_index do |(k, v), i| %><%= i %><%= k %><%= v %><% end %>", "0envprod1teamcore"),
        ("<% p('hosts').each do |h| next if h.start_with?('b') %><%= h %> <% end %>", "a.example c.example "),
        ("<%= p('ports').map { |x| x + 1 }.join(' ') %>", "81 444"),
        ("<%= p('ports').map do |x| x * 2 end.inspect %>", "[160, 886]"),
        ("<%= p('users').select { |u| u['admin'] }.map { |u| u['name'] }.join %>", "alice"),
        ("<%= p('users').reject { |u| u['admin'] }.map { |u| u['name'] }.first %>", "bob"),
        ("<%= p('tags').map { |k, v| \"#{k}=#{v}\" }.join('&') %>", "env=prod&team=core"),
        ("<%= p('tags').select { |k, v| k == 'team' }.to_json %>", "{\"team\":\"core\"}"),
        ("<%= p('hosts').map(&:upcase).last %>", "C.EXAMPLE"),
        ("<% 3.times do |i| %><%= i %><% end %>", "012"),
        ("<%= p('ports').inject(0) { |sum, x| sum + x } %> <%= p('ports').sum %>", "523 523"),
        ("<%= p('hosts').each_with_object([]) { |h, acc| acc << h.length }.inspect %>", "[9, 9, 9]"),
        ("<% total = 0 %><% p('ports').each { |x| total += x } %><%= total %>", "523"),
        ("<% x = 1 %><% [5].each { |y| x = y } %><%= x %>", "5"),
    ])
    func runs(source: String, expected: String) throws {
        #expect(try render(source) == expected)
    }
}

struct MethodTests {
    @Test(arguments: [
        ("<%= p('name').length %> <%= p('hosts').size %> <%= p('tags').length %>", "3 3 2"),
        ("<%= p('empty').empty? %> <%= p('hosts').empty? %> <%= {}.empty? %>", "true false true"),
        ("<%= nil.nil? %> <%= p('name').nil? %>", "true false"),
        (
            "<%= p('hosts').include?('b.example') %> <%= p('name').include?('e') %> <%= p('tags').include?('env') %>",
            "true true true"
        ),
        ("<%= 'MiXed'.upcase %> <%= 'MiXed'.downcase %> <%= '  pad  '.strip %>|", "MIXED mixed pad|"),
        (
            "<%= 'a,b,,c'.split(',').inspect %> <%= ' a  b '.split.inspect %> <%= 'a b'.split(' ').inspect %>",
            "[\"a\", \"b\", \"\", \"c\"] [\"a\", \"b\"] [\"a\", \"b\"]"
        ),
        ("<%= p('tags').keys.join(',') %> <%= p('tags').values.join(',') %>", "env,team prod,core"),
        (
            "<%= p('hosts').first %> <%= p('hosts').last %> <%= p('hosts').first(2).inspect %>",
            "a.example c.example [\"a.example\", \"b.example\"]"
        ),
        (
            "<%= 42.to_s + '!' %> <%= '42abc'.to_i + 1 %> <%= 'x'.to_i %> <%= 3.9.to_i %> <%= nil.to_s.empty? %>",
            "42! 43 0 3 true"
        ),
        ("<%= 'nginx.conf'.start_with?('ngi') %> <%= 'nginx.conf'.end_with?('.conf', '.x') %>", "true true"),
        ("<%= 'a-b-c'.gsub('-', '_') %> <%= 'a-b-c'.sub('-', '+') %>", "a_b_c a+b-c"),
        ("<%= p('hosts').to_json %>", "[\"a.example\",\"b.example\",\"c.example\"]"),
        (
            "<%= p('nginx').to_json %>",
            "{\"workers\":4,\"listen\":[\"[::]:80\",\"0.0.0.0:8080\"],\"ssl\":{\"enabled\":false}}"
        ),
        ("<%= \"q\\\"uote\\\\\\n\".to_json %> <%= nil.to_json %> <%= 1.5.to_json %>", "\"q\\\"uote\\\\\\n\" null 1.5"),
        ("<%= JSON.dump(p('ports')) %> <%= JSON.generate('a' => 1) %>", "[80,443] {\"a\":1}"),
        ("<%= JSON.pretty_generate('a' => [1, 2], 'b' => {}) %>", "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {}\n}"),
        ("<%= p('tags').to_yaml %>", "---\nenv: prod\nteam: core\n"),
        (
            "<%= ['a', 1, true, nil, '1', 'true', ''].to_yaml %>",
            "---\n- a\n- 1\n- true\n-\n- '1'\n- 'true'\n- ''\n"
        ),
        ("<%= 'plain'.to_yaml %>", "--- plain\n"),
        (
            "<%= p('hosts').sort.reverse.first %> <%= [3, 1, 2].sort.inspect %> <%= [3, 1, 2].max %>",
            "c.example [1, 2, 3] 3"
        ),
        ("<%= [1, nil, 1, 2].compact.uniq.inspect %> <%= [1, 2, 3].count { |x| x > 1 } %>", "[1, 2] 2"),
        ("<%= p('users').sort_by { |u| u['name'] }.map { |u| u['name'] }.reverse.join %>", "bobalice"),
        ("<%= p('users').find { |u| u['name'] == 'bob' }['admin'] %>", "false"),
        (
            "<%= p('tags').fetch('env') %> <%= p('tags').fetch('x', 'dflt') %> <%= p('tags').key?('team') %>",
            "prod dflt true"
        ),
        ("<%= p('tags').merge('env' => 'dev', 'new' => 1).to_json %>", "{\"env\":\"dev\",\"team\":\"core\",\"new\":1}"),
        (
            "<%= p('hosts').any? { |h| h.include?('c') } %> <%= p('hosts').all? { |h| h.end_with?('.example') } %>",
            "true true"
        ),
        ("<%= 'web'.capitalize %> <%= 'x'.rjust(3, '0') %> <%= 'x'.ljust(3, '.') %>|", "Web 00x x..|"),
        ("<%= format('%05d|%-4s|%.2f|%x', 42, 'ab', 3.14159, 255) %>", "00042|ab  |3.14|ff"),
        ("<%= '%s:%d' % ['host', 80] %>", "host:80"),
        ("<%= \"line1\\nline2\\n\".lines.map(&:chomp).inspect %>", "[\"line1\", \"line2\"]"),
        ("<% s = ' x ' %><% s.strip! %>[<%= s %>]", "[x]"),
        ("<%= 10.0.round %> <%= 2.567.round(2) %> <%= 7.fdiv(2) %>", "10 2.57 3.5"),
        ("<%= p('missing') rescue 'fallback' %> <% x = p('nope') rescue 'r' %><%= x %>", "fallback r"),
        ("<%= (1 / 0 rescue -1) %> <%= p('port') rescue 0 %>", "-1 8080"),
    ])
    func methods(source: String, expected: String) throws {
        #expect(try render(source) == expected)
    }

    @Test func rescueDoesNotHideUnsupportedCode() {
        // Ruby would rescue a NoMethodError here; the renderer refuses instead of silently using the fallback.
        #expect(renderError("<%= p('name').frobnicate rescue 'x' %>")?.code == .unsupportedMethod)
        #expect(renderError("<%= p('name') rescue 'x' %>") == nil)
    }

    @Test func integerAndNilConversions() throws {
        #expect(try render("<%= Integer('12') + 1 %> <%= String(5) %> <%= Array(nil).inspect %>") == "13 5 []")
        #expect(try render("<%= p('nothing', nil).to_a.inspect %> <%= p('ratio') * 2 %>") == "[] 1.0")
    }
}

struct PropertyHelperTests {
    @Test(arguments: [
        ("<%= p('name') %>", "web"),
        ("<%= p('nginx.workers') %>", "4"),
        ("<%= p('nginx.ssl.enabled') %>", "false"),
        ("<%= p('missing', 'fallback') %>", "fallback"),
        ("<%= p('missing', nil).inspect %>", "nil"),
        ("<%= p('nothing', 'dflt') %>", "dflt"),
        ("<%= p(['missing', 'name']) %>", "web"),
        ("<%= p(['missing', 'other'], 7) %>", "7"),
        ("<%= p 'name' %>", "web"),
        ("<% if_p('name', 'port') do |n, port| %><%= n %>:<%= port %><% end %>", "web:8080"),
        ("<% if_p('missing') do |m| %>yes<% end %>", ""),
        ("<% if_p('missing') do |m| %>yes<% end.else do %>no<% end %>", "no"),
        ("<% if_p('name') do |m| %>yes<% end.else do %>no<% end %>", "yes"),
        ("<% if_p('missing') do %>1<% end.else_if_p('name') do |n| %><%= n %><% end.else do %>3<% end %>", "web"),
        ("<% if_p('nothing') do %>set<% end %>", ""),
        ("<% if_p 'port' do |port| %><%= port %><% end %>", "8080"),
        ("<%= properties.nginx.workers %> <%= properties.name %>", "4 web"),
        ("<%= spec.name %> <%= spec.index %> <%= spec.deployment %> <%= spec.az %>", "web 0 nginx-ipv6 z1"),
        ("<%= spec.networks.private.ip %> <%= spec.networks.ipv6.gateway %>", "10.0.0.4 fd00:5:6::1"),
        (
            "<%= spec.address %> <%= spec.bootstrap %> <%= spec.job.name %> <%= spec.id.length %>",
            "fd00:5:6::4 true nginx 36"
        ),
        ("<%= spec.networks.private.default.include?('gateway') %> <%= spec.missing.inspect %>", "true nil"),
        ("<%= spec.networks.to_h.keys.join(',') %> <%= spec.networks['ipv6'].ip %>", "private,ipv6 fd00:5:6::4"),
        (
            "<% spec.networks.each_pair do |net, cfg| %><%= net %>=<%= cfg.ip %> <% end %>",
            "private=10.0.0.4 ipv6=fd00:5:6::4 "
        ),
        ("<%= name %>/<%= index %>", "nginx/0"),
        ("<% require 'json' %><%= JSON.dump('x') %>", "\"x\""),
    ])
    func helpers(source: String, expected: String) throws {
        #expect(try render(source) == expected)
    }

    @Test func unknownPropertyUsesBoshWording() {
        let error = renderError("a\nb\n<%= p('nginx.missing') %>")
        #expect(error?.code == .unknownProperty)
        #expect(error?.location.line == 3)
        #expect(error?.message == "Can't find property 'nginx.missing'")
        let either = renderError("<%= p(['a', 'b.c']) %>")
        #expect(either?.message == "Can't find property 'a', or 'b.c'")
        #expect(renderError("<%= p('nothing') %>")?.message == "Can't find property 'nothing'")
    }
}

struct ErrorTests {
    @Test(arguments: [
        (
            "<%= p('name').frobnicate %>", TemplateError.Code.unsupportedMethod, 1,
            "unsupported method 'frobnicate' for String"
        ),
        ("\n\n<%= frobnicate(1) %>", .unsupportedMethod, 3, "unsupported method 'frobnicate'"),
        ("<%= undefined_thing %>", .unsupportedMethod, 1, "undefined local variable or method 'undefined_thing'"),
        ("<% class Foo; end %>", .unsupportedSyntax, 1, "unsupported syntax: 'class'"),
        ("\n<%= defined?(x) %>", .unsupportedSyntax, 2, "unsupported syntax: 'defined?'"),
        ("<%= @foo %>", .unsupportedSyntax, 1, "unsupported syntax: instance variables"),
        ("<% x = 1 %>\n<% x = @foo if x == 1 %>", .unsupportedSyntax, 2, "unsupported syntax: instance variables"),
        ("<% i = 0 %><% while true %><% i += 1 %><% end %>", .runtime, 1, "loop ran too long"),
        ("<%= 'a' =~ /(/ %>", .raised, 1, "invalid regular expression: /(/"),
        ("<% def f(a); a; end %><%= f %>", .raised, 1, "wrong number of arguments (given 0, expected 1)"),
        (
            "<% begin %>x<% rescue %>y<% end %><%= undefined_thing %>", .unsupportedMethod, 1,
            "undefined local variable or method 'undefined_thing'"
        ),
        ("<%= 1 / 0 %>", .runtime, 1, "divided by 0"),
        ("<%= 'a' + 1 %>", .runtime, 1, "no implicit conversion of Integer into String"),
        ("<%= spec.networks.nope.ip %>", .runtime, 1, "undefined method 'ip' for nil"),
        ("<%= 1 < 'a' %>", .runtime, 1, "comparison of Integer with String failed"),
        ("<% if true %>\nno end\n", .syntax, 3, "syntax error, unexpected end of template, expecting 'end'"),
        ("<%= (1 + %>", .syntax, 1, "syntax error, unexpected '%>'"),
        ("<%= \"abc %>", .syntax, 1, "unterminated string literal"),
        ("<% raise 'bad config' if p('enabled') %>", .raised, 1, "bad config"),
        ("<%= Kernel.exit %>", .unsupportedMethod, 1, "unsupported method 'Kernel.exit'"),
        ("<%= Nope::Thing %>", .unsupportedSyntax, 1, "unsupported constant 'Nope::Thing'"),
        (
            "<%= p('hosts').shuffle %>", .unsupportedMethod, 1,
            "unsupported method 'shuffle' (rendering must be deterministic)"
        ),
        ("<% end %>", .syntax, 1, "syntax error, unexpected 'end'"),
        ("<%= link('db').address %>", .raised, 1, "Can't find link 'db'"),
    ])
    func reportsErrors(source: String, code: TemplateError.Code, line: Int, message: String) {
        let error = renderError(source)
        #expect(error?.code == code)
        #expect(error?.location.line == line)
        #expect(error?.message == message)
        #expect(error?.location.file == "templates/test.erb")
    }
}
