# Development oracle (never used by skiff itself): renders one corpus case of Tests/SkiffTemplatesTests/Corpus with
# real Ruby ERB and bosh-cli's template semantics, to produce or check the case's expected/ tree.
# Usage: ruby scripts/erb-oracle/render_case.rb CASE_DIR OUT_DIR
require 'erb'; require 'yaml'; require 'json'; require 'ostruct'; require 'fileutils'
require_relative 'bosh_helpers'

# bosh's copy_property: the value at the dotted path, else the spec default.
def copy_property(dst, src, name, default)
  keys = name.split('.'); src_ref = src
  keys.each { |k| src_ref = src_ref.is_a?(Hash) ? src_ref[k] : nil; break if src_ref.nil? }
  dst_ref = dst
  keys[0..-2].each { |k| dst_ref[k] ||= {}; dst_ref = dst_ref[k] }
  dst_ref[keys[-1]] = src_ref.nil? ? default : src_ref
end

dir = ARGV[0]; out = ARGV[1]
job = Dir.glob(File.join(dir, 'jobs', '*')).first
spec = YAML.load_file(File.join(job, 'spec'))
props_file = File.join(dir, 'properties.yml')
props = File.exist?(props_file) ? (YAML.load_file(props_file) || {}) : {}
context_file = File.join(dir, 'context.yml')
c = File.exist?(context_file) ? (YAML.load_file(context_file) || {}) : {}
resolved = {}
(spec['properties'] || {}).each { |n, d| copy_property(resolved, props, n, (d || {})['default']) }
nets = {}
if c['networks']
  c['networks'].each do |n, v|
    h = { 'ip' => v['ip'].to_s, 'netmask' => v['netmask'].to_s, 'gateway' => v['gateway'].to_s }
    h['default'] = v['default'] if v['default']
    nets[n] = h
  end
else
  nets = { 'default' => { 'ip' => '', 'netmask' => '', 'gateway' => '' } }
end
context = { 'index' => c.fetch('index', 0), 'id' => c.fetch('id', 'test-id'), 'az' => c.fetch('az', 'unknown'),
  'bootstrap' => c.fetch('bootstrap', true), 'job' => { 'name' => c['job_name'] || spec['name'] },
  'name' => c['name'], 'deployment' => c.fetch('deployment', 'test') }
context['address'] = c['address'] if c['address']
context['ip'] = c['ip'] if c['ip']
context['networks'] = nets
context['properties'] = resolved
FileUtils.rm_rf(out); FileUtils.mkdir_p(out)
list = (spec['templates'] || {}).map { |s, d| ["templates/#{s}", d] }
list << ['monit', 'monit'] if File.exist?(File.join(job, 'monit'))
list.each do |src, dst|
  begin
    erb = ERB.new(File.read(File.join(job, src)), trim_mode: '-')
    erb.filename = src
    res = erb.result(Ctx.new(context).get_binding)
    FileUtils.mkdir_p(File.dirname(File.join(out, dst)))
    File.write(File.join(out, dst), res)
  rescue Exception => e
    line = (e.backtrace || []).find { |l| l.start_with?(src) }
    File.write(File.join(out, 'ERROR'), "#{spec['name']}/#{src}:#{line.to_s.split(':')[1]}: #{e.message}\n")
    break
  end
end
