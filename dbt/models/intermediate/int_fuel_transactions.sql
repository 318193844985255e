{#- Current fuel transactions (latest delivered version per id) with the contract valid at the refuelling's
    local date (by plate) and the refueller resolved by phone. -#}
{{ fuel_transactions() }}
