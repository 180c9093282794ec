# Development oracle (never used by skiff itself): renders every snippet of snippets.txt (separated by `#####` lines)
# with real Ruby ERB and bosh's helpers, writing Tests/SkiffTemplatesTests/Snippets/Snippets.json.
# Usage: ruby scripts/erb-oracle/snippets.rb
require 'erb'; require 'json'; require 'yaml'; require 'ostruct'
require_relative 'bosh_helpers'

root = File.expand_path('../..', __dir__)
data = File.join(root, 'Tests/SkiffTemplatesTests/Snippets')
props = JSON.parse(File.read(File.join(data, 'properties.json')))
spec = JSON.parse(File.read(File.join(data, 'spec.json')))
spec['properties'] = props
links_file = File.join(data, 'links.json')
links = File.exist?(links_file) ? JSON.parse(File.read(links_file)) : {}
sources = File.read(File.join(__dir__, 'snippets.txt')).split(/^#####\n/).map { |s| s.end_with?("\n") ? s[0..-2] : s }
out = sources.each_with_index.map do |src, i|
  begin
    erb = ERB.new(src, trim_mode: '-'); erb.filename = 't.erb'
    { 'name' => "snippet-#{i + 1}", 'source' => src, 'expected' => erb.result(Ctx.new(spec, links).get_binding) }
  rescue Exception => e
    line = (e.backtrace || []).find { |l| l.start_with?('t.erb') }.to_s.split(':')[1].to_i
    line = e.message[/t\.erb:(\d+):/, 1].to_i if line.zero? # syntax errors carry the line in the message
    { 'name' => "snippet-#{i + 1}", 'source' => src, 'error_line' => line, 'ruby_error' => e.message.lines.first.to_s.strip }
  end
end
File.write(File.join(data, 'Snippets.json'), JSON.pretty_generate(out) + "\n")
