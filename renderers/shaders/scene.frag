// Scene pass, fragment stage: ambient + Lambert + Blinn-Phong in linear light, written sRGB-encoded
// into a UNORM target (so the bytes read back are the sRGB values, whatever the device's sRGB support).
// Shadows: a ray from the fragment towards the light is tested against every other object, exactly
// (the shapes are a unit cube, sphere and capped cylinder, scaled, turned about +z and moved), so a
// shadowed fragment keeps only the ambient term. No shadow map: no second pass, no resolution limit.
#version 450

layout(location = 0) in vec3 in_world;
layout(location = 1) in vec3 in_normal;

layout(set = 0, binding = 0) uniform Frame {
    mat4 view_proj;
    vec4 eye;
    vec4 to_light;
    vec4 light;
    vec4 occluder_count;    // x: objects that cast shadows
    vec4 occluder_place[64]; // xyz: centre, w: size
    vec4 occluder_shape[64]; // x: cos, y: sin of the turn about +z, z: 0 cube, 1 sphere, 2 cylinder
} frame;

layout(push_constant) uniform Object {
    vec4 place;
    vec4 turn;
    vec4 albedo;
    vec4 shine;
    vec4 self;    // x: index among the occluders, -1 for the ground
} object;

layout(location = 0) out vec4 out_colour;

vec3 linearToSrgb(vec3 c) {
    vec3 low = c * 12.92;
    vec3 high = 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055;
    return mix(high, low, vec3(lessThanEqual(c, vec3(0.0031308))));
}

// Whether the ray o + t d, t > 0, meets the unit shape (half-extent 1 about the origin).
bool hitsUnitShape(vec3 o, vec3 d, float shape) {
    float t0 = 0.0, t1 = 1e30;
    if (shape == 1.0) { // sphere
        float a = dot(d, d), b = dot(o, d), c = dot(o, o) - 1.0;
        float disc = b * b - a * c;
        return disc >= 0.0 && (-b + sqrt(disc)) / a > 0.0;
    }
    // Slabs: x and y for the cube, z for both.
    for (int axis = (shape == 0.0 ? 0 : 2); axis < 3; ++axis) {
        if (abs(d[axis]) < 1e-12) {
            if (abs(o[axis]) > 1.0) return false;
        } else {
            float ta = (-1.0 - o[axis]) / d[axis], tb = (1.0 - o[axis]) / d[axis];
            t0 = max(t0, min(ta, tb));
            t1 = min(t1, max(ta, tb));
        }
    }
    if (shape == 2.0) { // the side of the cylinder: x^2 + y^2 <= 1
        float a = dot(d.xy, d.xy), b = dot(o.xy, d.xy), c = dot(o.xy, o.xy) - 1.0;
        if (a < 1e-12) {
            if (c > 0.0) return false;
        } else {
            float disc = b * b - a * c;
            if (disc < 0.0) return false;
            float r = sqrt(disc);
            t0 = max(t0, (-b - r) / a);
            t1 = min(t1, (-b + r) / a);
        }
    }
    return t0 <= t1;
}

bool inShadow(vec3 p, vec3 l) {
    int count = int(frame.occluder_count.x);
    for (int i = 0; i < count; ++i) {
        if (i == int(object.self.x)) continue; // convex: its own far side is the Lambert term's business
        vec4 place = frame.occluder_place[i];
        vec4 shape = frame.occluder_shape[i];
        // Into the object's unit frame: move, turn back about +z, scale.
        vec3 q = p - place.xyz;
        vec3 o = vec3(shape.x * q.x + shape.y * q.y, -shape.y * q.x + shape.x * q.y, q.z) / place.w;
        vec3 d = vec3(shape.x * l.x + shape.y * l.y, -shape.y * l.x + shape.x * l.y, l.z) / place.w;
        if (hitsUnitShape(o, d, shape.z)) return true;
    }
    return false;
}

void main() {
    vec3 n = normalize(in_normal);
    vec3 l = frame.to_light.xyz;
    float n_dot_l = max(dot(n, l), 0.0);
    if (n_dot_l > 0.0 && inShadow(in_world + n * 1e-4, l)) n_dot_l = 0.0;
    vec3 colour = object.albedo.rgb * object.albedo.w * (frame.light.y + frame.light.x * n_dot_l);
    if (n_dot_l > 0.0 && object.shine.x > 0.0) {
        vec3 v = normalize(frame.eye.xyz - in_world);
        vec3 h = normalize(l + v);
        float s = pow(max(dot(n, h), 0.0), object.shine.y) * object.shine.x * frame.light.x;
        colour += s * mix(vec3(1.0), object.albedo.rgb, object.shine.z);
    }
    out_colour = vec4(linearToSrgb(clamp(colour, 0.0, 1.0)), 1.0);
}
