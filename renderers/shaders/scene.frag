// Scene pass, fragment stage: ambient + Lambert + Blinn-Phong in linear light, written sRGB-encoded
// into a UNORM target (so the bytes read back are the sRGB values, whatever the device's sRGB support).
#version 450

layout(location = 0) in vec3 in_world;
layout(location = 1) in vec3 in_normal;

layout(set = 0, binding = 0) uniform Frame {
    mat4 view_proj;
    vec4 eye;
    vec4 to_light;
    vec4 light;
} frame;

layout(push_constant) uniform Object {
    vec4 place;
    vec4 turn;
    vec4 albedo;
    vec4 shine;
} object;

layout(location = 0) out vec4 out_colour;

vec3 linearToSrgb(vec3 c) {
    vec3 low = c * 12.92;
    vec3 high = 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055;
    return mix(high, low, vec3(lessThanEqual(c, vec3(0.0031308))));
}

void main() {
    vec3 n = normalize(in_normal);
    vec3 l = frame.to_light.xyz;
    float n_dot_l = max(dot(n, l), 0.0);
    vec3 colour = object.albedo.rgb * object.albedo.w * (frame.light.y + frame.light.x * n_dot_l);
    if (n_dot_l > 0.0 && object.shine.x > 0.0) {
        vec3 v = normalize(frame.eye.xyz - in_world);
        vec3 h = normalize(l + v);
        float s = pow(max(dot(n, h), 0.0), object.shine.y) * object.shine.x * frame.light.x;
        colour += s * mix(vec3(1.0), object.albedo.rgb, object.shine.z);
    }
    out_colour = vec4(linearToSrgb(clamp(colour, 0.0, 1.0)), 1.0);
}
