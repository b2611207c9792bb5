{#- A model's custom schema (staging / intermediate / marts) is used as-is, without the
    `<target.schema>_` prefix dbt adds by default. Nodes without a custom schema land in target.schema. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
