select
    cast(carrier as {{ dbt.type_string() }})  as carrier,
    cast(name as {{ dbt.type_string() }})     as carrier_name
from {{ source('raw', 'airlines') }}
