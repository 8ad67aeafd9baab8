// Scene pass, vertex stage: places a unit mesh (scaled, turned about +z, moved) in the world.
#version 450

layout(location = 0) in vec3 in_position;
layout(location = 1) in vec3 in_normal;

layout(set = 0, binding = 0) uniform Frame {
    mat4 view_proj;
    vec4 eye;       // xyz: camera position
    vec4 to_light;  // xyz: unit vector towards the light
    vec4 light;     // x: intensity, y: ambient
    vec4 occluder_count;
    vec4 occluder_place[64];
    vec4 occluder_shape[64];
} frame;

layout(push_constant) uniform Object {
    vec4 place;   // xyz: centre, w: scale
    vec4 turn;    // x: cos, y: sin of the rotation about +z
    vec4 albedo;  // rgb: linear colour, w: diffuse weight
    vec4 shine;   // x: specular strength, y: exponent, z: tint (0 white .. 1 albedo)
    vec4 self;    // x: index among the occluders, -1 for the ground
} object;

layout(location = 0) out vec3 out_world;
layout(location = 1) out vec3 out_normal;

vec3 turnAboutZ(vec3 v) {
    return vec3(object.turn.x * v.x - object.turn.y * v.y, object.turn.y * v.x + object.turn.x * v.y, v.z);
}

void main() {
    out_world = turnAboutZ(in_position * object.place.w) + object.place.xyz;
    out_normal = turnAboutZ(in_normal);
    gl_Position = frame.view_proj * vec4(out_world, 1.0);
}
