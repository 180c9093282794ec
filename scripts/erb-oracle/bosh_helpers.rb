# Development oracle: renders a corpus case with real Ruby ERB, mimicking bosh-cli's erb_renderer.rb semantics.
require 'erb'; require 'yaml'; require 'json'; require 'ostruct'; require 'fileutils'
# What bosh's EvaluationContext loads for templates.
require 'active_support'; require 'active_support/core_ext/object/blank'; require 'shellwords'

class UnknownProperty < StandardError
  def initialize(names); super("Can't find property '#{names.join("', or '")}'"); end
end
class ActiveElseBlock
  def initialize(t); @t = t; end
  def else; yield; end
  def else_if_p(*names, &block); @t.if_p(*names, &block); end
  def else_if_link(name, &block); @t.if_link(name, &block); end
end
class InactiveElseBlock
  def else; end
  def else_if_p(*names); InactiveElseBlock.new; end
  def else_if_link(name); InactiveElseBlock.new; end
end
# bosh's EvaluationLink and EvaluationLinkInstance: instances, properties, p, if_p.
class Link
  attr_reader :instances, :properties
  def initialize(spec)
    @properties = spec['properties']
    @instances = (spec['instances'] || []).map { |i| LinkInstance.new(i) }
  end
  def p(*args)
    names = Array(args[0])
    names.each { |n| r = Ctx.lookup(@properties, n); return r unless r.nil? }
    return args[1] if args.length == 2
    raise UnknownProperty.new(names)
  end
  def if_p(*names)
    values = names.map { |n| v = Ctx.lookup(@properties, n); return ActiveElseBlock.new(self) if v.nil?; v }
    yield(*values); InactiveElseBlock.new
  end
  def address; raise NotImplementedError, 'link.address requires bosh director'; end
end
class LinkInstance
  attr_reader :name, :index, :id, :az, :address, :properties, :bootstrap
  def initialize(i)
    @name, @index, @id, @az, @address, @properties, @bootstrap =
      i['name'], i['index'], i['id'], i['az'], i['address'], i['properties'], i['bootstrap']
  end
end
class Ctx
  attr_reader :name, :index, :properties, :raw_properties, :spec
  def initialize(spec, links = {})
    @links = links
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
  def if_link(name)
    return ActiveElseBlock.new(self) unless @links.key?(name)
    yield Link.new(@links[name]); InactiveElseBlock.new
  end
  def link(name)
    raise "Can't find link '#{name}'" unless @links.key?(name)
    Link.new(@links[name])
  end
  def self.lookup(c, name)
    keys = name.split('.'); ref = c
    keys.each { |k| return nil unless ref.is_a?(Hash); ref = ref[k]; return nil if ref.nil? }
    ref
  end
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

