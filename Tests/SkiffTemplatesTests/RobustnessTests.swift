import Foundation
import Testing

@testable import SkiffTemplates

/// Hostile or odd input must give an error value, never a trap; rendering stays linear.
struct RobustnessTests {
    @Test(arguments: [
        "<%= -9223372036854775807 - 1 - 1 %>",
        "<%= (-9223372036854775807 - 1) / -1 %>",
        "<%= (-9223372036854775807 - 1).abs %>",
        "<%= -(-9223372036854775807 - 1) %>",
        "<%= 2 ** 64 %>",
        "<%= 1e300.to_i %>",
        "<%= (0.0 / 0.0).round %>",
        "<%= Integer(1e30) %>",
        "<%= 'x' * 9223372036854775807 %>",
        "<%= [1] * 9223372036854775807 %>",
        "<%= (1..9223372036854775807).to_a.size %>",
        "<%= 9223372036854775807.times.to_a.size %>",
        "<%= 'x'.ljust(9223372036854775807) %>",
        "<%= format('%9223372036854775807d', 1) %>",
        "<%= 99999999999999999999 %>",
        "<%= \"\\u{110000}\" %>",
        "<%= '%d' % 1e300 %>",
    ])
    func failsCleanly(source: String) {
        let error = renderError(source)
        #expect(error != nil, "\(source) should fail")
        #expect(error?.location.line == 1)
    }

    @Test func edgeValuesStillWork() throws {
        #expect(try render("<%= 1 ** 1000000000000 %> <%= (-1) ** 1000000000001 %> <%= 0 ** 0 %>") == "1 -1 1")
        #expect(
            try render("<%= 9223372036854775807 %> <%= (-9223372036854775807 - 1) % -1 %>")
                == "9223372036854775807 0")
        #expect(
            try render("<%= [1, 2, 3][1, 9223372036854775807].inspect %> <%= 'abc'[1, 9223372036854775807] %>")
                == "[2, 3] bc")
    }

    @Test func deepNestingIsBoundedNotFatal() throws {
        let shallow = String(repeating: "(", count: 40) + "1" + String(repeating: ")", count: 40)
        #expect(try render("<%= \(shallow) %>") == "1")
        let deep = String(repeating: "[", count: 400) + String(repeating: "]", count: 400)
        let error = renderError("<%= \(deep) %>")
        #expect(error?.code == .unsupportedSyntax)
        let bangs = String(repeating: "!", count: 1000)
        #expect(renderError("<%= \(bangs)true %>")?.code == .unsupportedSyntax)
    }

    @Test func renderingIsLinear() throws {
        let small = TemplateValue.array((0..<1_000).map { .int($0) })
        let large = TemplateValue.array((0..<20_000).map { .int($0) })
        let source = """
            <% list = [] -%>
            <% p('items').each_with_index do |item, i| -%>
            <%   list << item -%>
            item <%= i %>: <%= item * 2 %> <%= "#{item}".rjust(6, '0') %>
            <% end -%>
            total=<%= list.length %> <%= p('items').map { |x| x + 1 }.sum %>
            """
        // The fastest of a few runs, so that other work on this shared machine does not decide the outcome.
        func time(_ items: TemplateValue) throws -> (Double, String) {
            var best = Double.infinity
            var text = ""
            for _ in 0..<3 {
                let start = Date()
                text = try render(source, properties: ["items": items])
                best = min(best, Date().timeIntervalSince(start))
            }
            return (best, text)
        }
        let (smallTime, _) = try time(small)
        let (largeTime, text) = try time(large)
        #expect(text.hasSuffix("total=20000 200010000"))
        // 20x the input may take at most 80x the time; quadratic work would take about 400x.
        #expect(largeTime < max(smallTime, 0.02) * 80, "small \(smallTime)s, large \(largeTime)s")
    }

    @Test func longTextTemplatesAreLinear() throws {
        let line = "server { listen [::]:80; } # <%= p('port') %>\n"
        let start = Date()
        let text = try render(String(repeating: line, count: 50_000))
        #expect(text.count == 50_000 * (line.count - "<%= p('port') %>".count + 4))
        #expect(Date().timeIntervalSince(start) < 20)
    }
}

/// Errors are one line and never quote property values.
struct ErrorHygieneTests {
    @Test func errorsDoNotQuotePropertyValues() {
        let secret: TemplateValue = ["password": "hunter2-secret", "port": 80]
        let sources = [
            "<%= p('port') < p('password') %>",
            "<%= Integer(p('password')) %>",
            "<%= Float(p('password')) %>",
            "<%= '%d' % p('password') %>",
            "<%= p('port') + p('password') %>",
            "<%= p('password').frobnicate %>",
            "<%= p('password') * -1 %>",
        ]
        for source in sources {
            let error = renderError(source, properties: secret)
            #expect(error != nil, "\(source)")
            #expect(error?.description.contains("hunter2") == false, "\(error?.description ?? "")")
        }
    }

    @Test func raisedMultiLineMessagesStayOnOneLine() {
        let error = renderError("<% raise \"first\\nsecond\" %>")
        #expect(error?.description == "templates/test.erb:1: first\\nsecond")
    }
}
