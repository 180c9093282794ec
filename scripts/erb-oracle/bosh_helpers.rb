# Development oracle: renders a corpus case with real Ruby ERB, mimicking bosh-cli's erb_renderer.rb semantics.
require 'erb'; require 'yaml'; require 'json'; require 'ostruct'; require 'fileutils'

class UnknownProperty < StandardError
  def initialize(names); super("Can't find property '#{names.join("', or '")}'"); end
end
class ActiveElseBlock
  def initialize(t); @t = t; end
  def else; yield; end
  def else_if_p(*names, &block); @t.if_p(*names, &block); end
end
class InactiveElseBlock
  def else; end
  def else_if_p(*names); InactiveElseBlock.new; end
end
class Ctx
  attr_reader :name, :index, :properties, :raw_properties, :spec
  def initialize(spec)
    @name = spec['job']['name']; @index = spec['index']
    @raw_properties = spec['properties']; @properties = openstruct(@raw_properties); @spec = openstruct(spec)
  end
  def get_binding; binding.taint rescue binding; end
  def p(*args)
    names = Array(args[0])
    names.each { |n| r = lookup_property(@raw_properties, n); return r unless r.nil? }
    return args[1] if args.length == 2
    raise UnknownProperty.new(names)
  end
  def if_p(*names)
    values = names.map { |n| v = lookup_property(@raw_properties, n); return ActiveElseBlock.new(self) if v.nil?; v }
    yield(*values); InactiveElseBlock.new
  end
  def if_link(name); ActiveElseBlock.new(self); end
  def lookup_property(c, name)
    keys = name.split('.'); ref = c
    keys.each { |k| return nil unless ref.is_a?(Hash); ref = ref[k]; return nil if ref.nil? }
    ref
  end
  def openstruct(o)
    case o
    when Hash then OpenStruct.new(o.inject({}) { |h, (k, v)| h[k] = openstruct(v); h })
    when Array then o.map { |i| openstruct(i) }
    else o end
  end
end

